"""Run the real app (`reflex run --env prod`) in a throwaway copy of the project.

Why a copy: Reflex compiles into `.web/` and bakes the backend port into the production
bundle, so two servers built in one checkout (another engineer's run, a second test session)
would overwrite each other's frontend. The copy snapshots the app code, symlinks the rest
and hard-links `node_modules`, so it is cheap, and each server gets its own `.web/` and build.
`mode="dev"` runs it like `make run` (Vite dev server + backend on two ports).

Usage (any test package can import it):
    server = start_app({"TICKETING_LOCK_SECONDS": "5"})   # SQLite DB made and migrated for you
    page.goto(server.url + "/")
    server.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import reflex_base

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
LINKED = ("alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")
# Copied, not linked: the app code is a snapshot (a half-saved file elsewhere in the checkout
# cannot break a running server, and dev mode's reloader does not restart on others' edits).
COPIED = ("ticketing_app", "reflex.lock")
WEB_SKIP = {"node_modules", "build", ".react-router", "public"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    """A running app. In prod mode `url` serves both the pages and the API on one port; in dev
    mode `url` is the Vite frontend and `backend_url` the API/WebSocket server."""

    url: str
    port: int
    backend_url: str
    database_url: str
    workdir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the whole process group (reflex, its workers and node), then remove the copy."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        shutil.rmtree(self.workdir, ignore_errors=True)


def _mirror_project(workdir: Path) -> None:
    for name in LINKED:
        (workdir / name).symlink_to(ROOT / name)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    web = workdir / ".web"
    web.mkdir()
    # Files that Reflex only writes on init (or that a removed plugin left modified) come
    # fresh from Reflex's own templates.
    templates = Path(reflex_base.__file__).parent / ".templates" / "web"
    src_web = ROOT / ".web"
    if src_web.is_dir():
        for item in src_web.iterdir():
            if item.name in WEB_SKIP:
                continue
            if item.is_dir():
                shutil.copytree(item, web / item.name, symlinks=True)
            else:
                shutil.copy2(item, web / item.name)
        for name in ("postcss.config.js",):
            shutil.copy2(templates / name, web / name)
        if (src_web / "node_modules").is_dir():
            # Hard links: instant and no extra space; a symlink breaks PostCSS plugin lookup.
            subprocess.run(
                ["cp", "-al", str(src_web / "node_modules"), str(web / "node_modules")],
                check=True,
            )


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TICKETING_LOCK_SECONDS": "120",
        # Cheap argon2 for tests; production cost is tested elsewhere.
        "TICKETING_ARGON2_MEMORY_KIB": "1024",
        "TICKETING_ARGON2_TIME_COST": "1",
    }
    for name in ("FRONTEND_PORT", "BACKEND_PORT", "DATABASE_URL", "REDIS_URL", "NATS_URL"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def migrate(database_url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def _wait_ready(server: AppServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    checks = [server.backend_url + "/api/health", server.url + "/"]
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"app exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            for check in checks:
                with urllib.request.urlopen(check, timeout=3) as response:
                    if response.status != 200:
                        raise urllib.error.URLError(str(response.status))
            return
        except (OSError, urllib.error.URLError):
            time.sleep(1)
    raise TimeoutError(f"app not ready after {timeout}s:\n{server.log_tail()}")


def start_app(
    env: dict[str, str] | None = None,
    *,
    database_url: str | None = None,
    mode: Literal["prod", "dev"] = "prod",
    timeout: float = 600,
) -> AppServer:
    """Build and start the app on a free port; returns once `/` and `/api/health` answer.

    `env` overrides anything (TICKETING_LOCK_SECONDS, REDIS_URL, STRIPE_API_BASE, ...).
    Without `database_url` (or DATABASE_URL in `env`) a fresh SQLite file is created and
    migrated; a given URL is migrated too (the caller owns emptying it).
    `mode="dev"` runs the Vite dev server and the backend on two ports, like `make run`.
    """
    workdir = Path(tempfile.mkdtemp(prefix="ticketing-app-"))
    full_env = base_env(env)
    database_url = database_url or full_env.get("DATABASE_URL") or f"sqlite:///{workdir}/e2e.db"
    full_env["DATABASE_URL"] = database_url
    _mirror_project(workdir)
    migrate(database_url, full_env)
    port = free_port()
    backend_port = port if mode == "prod" else free_port()
    # The pages' origin: the only one the socket and CORS accept (settings.allowed_origins).
    full_env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    log_path = workdir / "app.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "reflex"),
                "run",
                "--env",
                mode,
                "--frontend-port",
                str(port),
                "--backend-port",
                str(backend_port),
            ],
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        backend_url=f"http://127.0.0.1:{backend_port}",
        database_url=database_url,
        workdir=workdir,
        log_path=log_path,
        proc=proc,
        env=full_env,
    )
    try:
        _wait_ready(server, timeout)
    except BaseException:
        print(server.log_tail())
        server.stop()
        raise
    return server
