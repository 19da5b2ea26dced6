"""Processes the load/fault tests control: our own Redis, a cuttable TCP proxy in front of
PostgreSQL, localstripe, and the prod-mode Reflex backend (restartable on the same port).

Never the shared services' lifecycles: the shared Redis (6379) and PostgreSQL cluster stay up;
"Redis down" stops our own redis-server, "PostgreSQL down" cuts our proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "api"))
from api_helpers import free_port, start_localstripe, wait_until_up  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
LINKED = ("ticketing_app", "alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")

__all__ = ["Backend", "PgProxy", "RedisServer", "free_port", "start_localstripe"]


class RedisServer:
    """A private redis-server (no persistence) we may stop and start again on its port; or,
    given `external_url`, DB 7 of a server we must leave alone (never stopped)."""

    def __init__(self, external_url: str | None = None) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.external_url = external_url

    @property
    def stoppable(self) -> bool:
        return self.external_url is None

    @property
    def url(self) -> str:
        if self.external_url:
            parts = urlsplit(self.external_url)
            return urlunsplit((parts.scheme, parts.netloc, "/7", parts.query, ""))
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not self.stoppable:
            return
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if not self.stoppable:
            return
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class PgProxy:
    """A TCP proxy to PostgreSQL on loopback. `cut()` drops every connection and refuses new
    ones (accept, then close) until `restore()`: the database as the backend sees an outage."""

    target_port: int = 5432
    port: int = field(default_factory=free_port)
    _cut: bool = False
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", self.port)
            )
            ready.set()
            with contextlib.suppress(Exception):
                self._loop.run_forever()
            server.close()

        threading.Thread(target=run, daemon=True, name="pg-proxy").start()
        ready.wait(5)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers.discard(writer)
            self._writers.discard(up_writer)

    def _call(self, fn) -> None:  # type: ignore[no-untyped-def]
        assert self._loop is not None
        done = threading.Event()

        def wrapped() -> None:
            fn()
            done.set()

        self._loop.call_soon_threadsafe(wrapped)
        done.wait(5)

    def cut(self) -> None:
        def drop() -> None:
            self._cut = True
            for w in list(self._writers):
                with contextlib.suppress(Exception):
                    w.transport.abort()  # an abrupt end, as when the server dies

        self._call(drop)

    def restore(self) -> None:
        self._call(lambda: setattr(self, "_cut", False))

    def stop(self) -> None:
        if self._loop is not None:
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)


class Backend:
    """`reflex run --env prod --backend-only` in a throwaway dir symlinking the sources (Reflex
    writes .states/ and .web/backend/ there, never into the checkout); restartable."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ticketing-load-"))
        for name in LINKED:
            if (ROOT / name).exists():
                (self.workdir / name).symlink_to(ROOT / name)
        self.port = free_port()
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "REFLEX_USE_NPM": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Load, not abuse: sellers here list as fast as buyers buy (listing limits off).
            "TICKETING_MAX_LISTINGS_PER_HOUR": "0",
            "TICKETING_MAX_AVAILABLE_LISTINGS": "0",
            **env,
        }
        for name in ("FRONTEND_PORT", "BACKEND_PORT", "API_URL", "NATS_URL"):
            if name not in env:
                self.env.pop(name, None)
        self.log_path = log_path  # outside workdir: kept after remove() for a post-mortem
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> float:
        """Start and wait until /api/health answers; returns the seconds it took."""
        began = time.monotonic()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-only",
                 "--backend-port", str(self.port)],
                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        wait_until_up(f"{self.url}/api/health", self.proc, self.log_path, timeout=timeout)
        return time.monotonic() - began

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def remove(self) -> None:
        self.stop()
        subprocess.run(["rm", "-rf", str(self.workdir)], check=False)


def health(base_url: str) -> tuple[int, dict]:
    try:
        r = httpx.get(f"{base_url}/api/health", timeout=10)
        return r.status_code, r.json()
    except httpx.HTTPError as exc:
        return 0, {"error": str(exc)}
