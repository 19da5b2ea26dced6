"""Helpers for the API tests: start/stop a real server process, clients, error assertions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.db_helpers import fresh_postgres, migrate

ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery"
API_DB_NAME = "ticketing_api"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    db_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()[-4000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log_path.read_text()[-4000:]}")


def start_api_server(db_url: str, log_path: Path, **env: str) -> Server:
    """granian on the FastAPI app alone: the REST contract without compiling any page."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    for name in ("REDIS_URL", "NATS_URL"):
        if name not in env:
            full_env.pop(name, None)
    cmd = [
        str(Path(sys.executable).parent / "granian"),
        "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "ticketing_app.api:build_api",
    ]  # fmt: skip
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/api/openapi.json", proc, log_path, timeout=30)
    return Server(base_url=base, db_url=db_url, proc=proc, log_path=log_path)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def postgres_api_url() -> str:
    """Our own PostgreSQL database, emptied and migrated from an empty schema."""
    return fresh_postgres(API_DB_NAME)


@dataclass
class Client:
    """One browser-like user: an httpx client with its own cookie jar."""

    http: httpx.Client
    email: str = ""
    id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str):  # get/post/put/delete/request
        return getattr(self.http, name)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def assert_error(
    response: httpx.Response,
    status: int,
    message: str | None = None,
    field: str | None | bool = False,
) -> dict:
    """The SPEC error shape with the expected status (and message/field when given)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"] and all(set(e) == {"message", "field"} for e in body["errors"]), body
    first = body["errors"][0]
    assert isinstance(first["message"], str) and first["message"], body
    if message is not None:
        assert first["message"] == message, body
    if field is not False:
        assert first["field"] == field, body
    return first


def assert_api_edges(http: httpx.Client) -> None:
    """HEAD, odd methods and `//api/...` (issue 18): answers a load balancer or a scanner
    gets, on the API alone and behind Reflex's root mount alike."""
    for path in ("/api/tickets?limit=1", "/api/health", "/api/users/currentuser", "/api/nope"):
        got, head = http.get(path), http.head(path)
        assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == str(len(got.content)), path
        assert head.headers.get("x-total-count") == got.headers.get("x-total-count"), path
    r = http.head("/api/users/signin")  # a POST route: HEAD is not GET there
    assert r.status_code == 405 and r.content == b"" and r.headers["allow"] == "POST"
    r = http.request("PROPFIND", "/api/tickets")
    assert_error(r, 405, "Method not allowed", None)
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    assert_error(http.request("FOO", "/api/nope"), 404, "Not found", None)
    origin = str(http.base_url).rstrip("/")  # a relative "//api" would name a host "api"
    for path in ("//api/tickets", "//api/nope", "//api/health", "//api", "///api/health"):
        assert_error(http.get(origin + path), 404, "Not found", None)
        assert_error(http.post(origin + path, json={}), 404, "Not found", None)


def db_execute(db_url: str, sql: str, **params: object) -> None:
    """Put a row into a state the API cannot reach yet (e.g. `sold` before payments exist)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def cookie_header_parts(response: httpx.Response) -> dict[str, str]:
    """The `Set-Cookie` header for `session`, as lower-cased attribute -> value."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("session=")]
    assert len(headers) == 1, response.headers
    parts: dict[str, str] = {}
    for i, piece in enumerate(headers[0].split(";")):
        name, _, value = piece.strip().partition("=")
        parts["session" if i == 0 else name.lower()] = value
    return parts


# localstripe pickles its store to /tmp after every write (slow, shared machine-wide): off.
LOCALSTRIPE_LAUNCHER = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import start
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
start()
"""


def start_localstripe(log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A real (fake) Stripe API server, so payment routes do real work while fuzzed."""
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCALSTRIPE_LAUNCHER, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/js.stripe.com/v3/", proc, log_path, timeout=30)
    return base, proc


LINKED = ("ticketing_app", "alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")
VENV_BIN = Path(sys.executable).parent


def reflex_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("FRONTEND_PORT", "BACKEND_PORT", "REDIS_URL", "NATS_URL", "API_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


@dataclass
class ReflexBackend:
    base_url: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        """The whole process group: reflex and its granian workers."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_reflex_backend(
    workdir: Path, env: dict[str, str], port: int | None = None
) -> ReflexBackend:
    """`reflex run --env prod --backend-only --backend-port PORT` in `workdir`, which symlinks
    the sources so Reflex writes `.states/` and `.web/backend/` there, not in the checkout."""
    for name in LINKED:
        if (ROOT / name).exists():
            (workdir / name).symlink_to(ROOT / name)
    db_url = env.get("DATABASE_URL") or f"sqlite:///{workdir / 'backend.db'}"
    migrate(db_url)
    port = port or free_port()
    log_path = workdir / "reflex.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-only",
             "--backend-port", str(port)],
            cwd=workdir, env=reflex_env({**env, "DATABASE_URL": db_url}), stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    backend = ReflexBackend(f"http://127.0.0.1:{port}", port, workdir, proc)
    try:
        wait_until_up(f"{backend.base_url}/api/health", proc, log_path, timeout=180)
    except Exception:
        backend.stop()
        raise
    return backend
