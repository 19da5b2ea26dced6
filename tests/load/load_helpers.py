"""What the load/fault tests control besides tests/support's servers: our own Redis (or a
database of a shared one), and a cuttable TCP proxy in front of PostgreSQL. The backend is
`spawn_server("backend", env)` (restartable on its port), localstripe `start_localstripe`.

Never the shared services' lifecycles: the shared Redis (6379) and PostgreSQL cluster stay up;
"Redis down" stops our own redis-server, "PostgreSQL down" cuts our proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.support import Server, free_port, spawn_server

__all__ = ["PgProxy", "RedisServer", "health"]


class RedisServer:
    """A private redis-server (no persistence) we may stop and start again on its port; or,
    given `external_url`, DB 7 of a server we must leave alone (never stopped)."""

    def __init__(self, external_url: str | None = None) -> None:
        self.external_url = external_url
        self.server: Server | None = None if external_url else spawn_server("redis", start=False)

    @property
    def stoppable(self) -> bool:
        return self.external_url is None

    @property
    def url(self) -> str:
        if self.external_url:
            parts = urlsplit(self.external_url)
            return urlunsplit((parts.scheme, parts.netloc, "/7", parts.query, ""))
        assert self.server is not None
        return self.server.url

    def start(self) -> None:
        if self.server is not None:
            self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def remove(self) -> None:
        if self.server is not None:
            self.server.remove()


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


def health(base_url: str) -> tuple[int, dict]:
    try:
        r = httpx.get(f"{base_url}/api/health", timeout=10)
        return r.status_code, r.json()
    except httpx.HTTPError as exc:
        return 0, {"error": str(exc)}
