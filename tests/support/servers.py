"""Real server processes for tests, on free loopback ports: `spawn_server(kind, env)`.

    api = spawn_server("api", {"DATABASE_URL": url})        # granian serving build_api() alone
    backend = spawn_server("backend", {"REDIS_URL": ...})    # reflex run --env prod --backend-only
    app = spawn_server("app", {"TICKETING_LOCK_SECONDS": "5"})  # the whole app (tests/e2e)
    stripe = spawn_server("localstripe")                     # tests/support/stripe.py wraps it
    nats = spawn_server("nats", start=False); nats.start()   # nats-server -js, restartable
    redis = spawn_server("redis")                            # a private redis-server
    site = spawn_server("static", directory=build_dir)       # python -m http.server
    ...; server.stop(); server.start()  # a restart, same port; server.remove() at the end

Each returns once the server answers (`start=False`: not started yet). Every process runs in
its own process group, so `stop()` also ends its children (granian and Reflex workers, node).
Settings inherited from this process that would point a server at someone else's services
(DATABASE_URL, REDIS_URL, NATS_URL, ports) are dropped unless `env` gives them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# What a server copy of the project needs (symlinked into its working directory, so Reflex
# writes .states/ and .web/ there and never into the checkout).
PROJECT = ("ticketing_app", "alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")
INHERITED_ONLY_IF_GIVEN = (
    "FRONTEND_PORT",
    "BACKEND_PORT",
    "API_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "NATS_URL",
)
# Load, not abuse: sellers in the load tests and benchmarks list as fast as buyers buy.
NO_LISTING_LIMITS = {
    "TICKETING_MAX_LISTINGS_PER_HOUR": "0",
    "TICKETING_MAX_AVAILABLE_LISTINGS": "0",
}
# localstripe pickles its whole store to /tmp after every write (slow, and shared by every
# localstripe on the machine); the tests need none of that, so the launcher turns it off.
LOCALSTRIPE_LAUNCHER = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import start
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
start()
"""


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process: ours, the venv first on PATH, Reflex quiet, cheap
    argon2 (its production cost is tested elsewhere), and `extra` on top."""
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TICKETING_ARGON2_MEMORY_KIB": os.environ.get("TICKETING_ARGON2_MEMORY_KIB", "1024"),
        "TICKETING_ARGON2_TIME_COST": os.environ.get("TICKETING_ARGON2_TIME_COST", "1"),
    }
    for name in INHERITED_ONLY_IF_GIVEN:
        env.pop(name, None)
    env.update(extra or {})
    return env


def link_project(workdir: Path) -> None:
    for name in PROJECT:
        if (ROOT / name).exists():
            (workdir / name).symlink_to(ROOT / name)


def http_ready(path: str, *, ok_only: bool = False) -> Callable[[Server], bool]:
    def probe(server: Server) -> bool:
        try:
            response = httpx.get(f"{server.url}{path}", timeout=3)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 or not ok_only

    return probe


def tcp_ready(server: Server) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_ready(server: Server) -> bool:
    import redis

    client = redis.Redis(port=server.port, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class Server:
    """One server process on `port`; `start()` may be called again after `stop()`."""

    def __init__(
        self,
        kind: str,
        argv: list[str],
        *,
        port: int,
        url: str,
        ready: Callable[[Server], bool] | list[Callable[[Server], bool]],
        env: dict[str, str],
        workdir: Path,
        log_path: Path | None = None,
        cwd: Path | None = None,
        timeout: float = 30,
        stop_timeout: float = 10,
        owns_workdir: bool = True,
    ) -> None:
        self.kind = kind
        self.argv = argv
        self.port = port
        self.url = url
        self.ready = ready if isinstance(ready, list) else [ready]
        self.env = env
        self.workdir = workdir
        self.log_path = log_path or workdir / f"{kind}.log"
        self.cwd = cwd or ROOT
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        self.owns_workdir = owns_workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def db_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float | None = None) -> float:
        """Start the process and wait until it answers; returns the seconds that took."""
        timeout = self.timeout if timeout is None else timeout
        began = time.monotonic()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts}: {' '.join(self.argv)} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        while not all(probe(self) for probe in self.ready):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited early ({self.proc.returncode}):\n{self.log_tail()}"
                )
            if time.monotonic() - began > timeout:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"{self.kind} not up after {timeout} s:\n{tail}")
            time.sleep(0.1)
        return time.monotonic() - began

    def stop(self) -> None:
        """End the process and its children (SIGTERM, then SIGKILL); a no-op if not running."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def remove(self) -> None:
        """Stop, and delete the working directory it was given (the log too, if it is there)."""
        self.stop()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log(self) -> str:
        return self.log_tail()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def spawn_server(
    kind: str,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    log_path: Path | None = None,
    start: bool = True,
    timeout: float | None = None,
    **options: Any,
) -> Any:
    """Start a server of `kind` (see the module docstring) with `env` on top of `child_env()`;
    returns it once it answers. `log_path` defaults to a file in its own working directory.

    Options: "backend": a fresh migrated SQLite database when `env` has no DATABASE_URL;
    "nats": `store=` the JetStream directory (kept across restarts); "static": `directory=`;
    "app": everything `e2e.app_server.start_app` takes (`database_url=`, `mode=`)."""
    if kind == "app":
        from e2e.app_server import start_app

        return start_app(env, timeout=timeout or 600, **options)
    workdir = Path(tempfile.mkdtemp(prefix=f"ticketing-{kind}-"))
    port = port or free_port()
    full_env = child_env(env)
    url = f"http://127.0.0.1:{port}"
    stop_timeout = 10.0
    cwd = ROOT
    if kind == "api":
        assert "DATABASE_URL" in full_env, "the api server needs DATABASE_URL"
        argv = [
            str(VENV_BIN / "granian"),
            "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--no-access-log", "ticketing_app.api:build_api",
        ]  # fmt: skip
        ready: Any = http_ready("/api/openapi.json")
        default_timeout = 30.0
    elif kind == "backend":
        link_project(workdir)
        if "DATABASE_URL" not in full_env:
            from tests.db_helpers import migrate

            full_env["DATABASE_URL"] = f"sqlite:///{workdir / 'backend.db'}"
            migrate(full_env["DATABASE_URL"])
        argv = [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-only",
                "--backend-port", str(port)]  # fmt: skip
        ready, default_timeout, stop_timeout, cwd = http_ready("/api/health"), 180.0, 20.0, workdir
    elif kind == "localstripe":
        argv = [sys.executable, "-c", LOCALSTRIPE_LAUNCHER, str(port)]
        ready, default_timeout = http_ready("/js.stripe.com/v3/"), 30.0
    elif kind == "static":
        directory = Path(options.pop("directory"))
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                "--directory", str(directory)]  # fmt: skip
        ready, default_timeout = http_ready("/index.html"), 30.0
    elif kind == "nats":
        store = Path(options.pop("store", workdir / "jetstream"))
        argv = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
        url, ready, default_timeout = f"nats://127.0.0.1:{port}", tcp_ready, 10.0
    elif kind == "redis":
        argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]  # fmt: skip
        url, ready, default_timeout = f"redis://127.0.0.1:{port}/0", redis_ready, 10.0
    else:
        raise ValueError(f"unknown server kind {kind!r}")
    assert not options, f"unknown options for {kind}: {sorted(options)}"
    server = Server(
        kind,
        argv,
        port=port,
        url=url,
        ready=ready,
        env=full_env,
        workdir=workdir,
        log_path=log_path,
        cwd=cwd,
        timeout=timeout or default_timeout,
        stop_timeout=stop_timeout,
    )
    if start:
        try:
            server.start()
        except BaseException:
            server.remove()
            raise
    return server
