"""Reflex's event socket as the 0.10 frontend speaks it, for tests and benchmarks that talk to a
prod backend (`spawn_server("backend")`): the compiled initialState a frontend holds, and a tab
that boots a page (the boot event in the Socket.IO CONNECT packet) and sends events."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from typing import Any

from tests.support.servers import VENV_BIN, Server

NAMESPACE = "/_event"  # Reflex's Socket.IO namespace (also its path)
ROOT_STATE = "reflex___state____state"
FIELD = "_rx_state_"  # the suffix of each var's name in a delta


def compiled_initial_state(server: Server, module: str = "ticketing_app.ticketing_app") -> Any:
    """The initialState a frontend compiled for `server`'s app holds (what `reflex export`
    bakes into .web/utils/context.js), computed the same way in the server's directory and
    environment."""
    code = (
        f"import json, importlib, rxconfig; importlib.import_module({module!r}); "
        "from reflex.state import State; from reflex.compiler.utils import compile_state; "
        "from reflex_base.utils.format import json_dumps; print(json_dumps(compile_state(State)))"
    )
    out = subprocess.run(
        [str(VENV_BIN / "python"), "-c", code], cwd=server.cwd, env=server.env,
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def compiled_hashes(server: Server, module: str = "ticketing_app.ticketing_app") -> list[str]:
    """The hashes of that initialState, which the frontend sends with a page's first boot
    event (the backend then leaves out what the page already holds)."""
    from reflex.state import state_snapshot_hashes

    return state_snapshot_hashes(compiled_initial_state(server, module))


class Tab:
    """One browser tab of `base` (its own client token unless given one)."""

    def __init__(self, base: str, *, cookie: str | None = None, token: str | None = None) -> None:
        import socketio

        self.base = base
        self.token = token or str(uuid.uuid4())
        self.headers = {"Cookie": f"session={cookie}"} if cookie else {}
        self.path = "/"
        self.deltas: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_update, namespace=NAMESPACE)

    async def _on_update(self, data: dict[str, Any]) -> None:
        self.deltas.append(data.get("delta") or {})
        self.events.extend(data.get("events") or [])  # what the backend has the page do
        self._arrived.set()

    def _event(
        self, name: str, payload: dict[str, Any] | None, query: dict[str, str] | None = None
    ) -> dict[str, Any]:
        route = {"pathname": self.path, "asPath": self.path, "query": query or {}}
        return {"token": self.token, "name": name, "payload": payload or {}, "router_data": route}

    def merged(self) -> dict[str, dict[str, Any]]:
        """Every delta received so far, merged per state as the frontend applies them."""
        state: dict[str, dict[str, Any]] = {}
        for delta in self.deltas:
            for name, values in delta.items():
                state.setdefault(name, {}).update(values)
        return state

    def hydrated(self) -> bool:
        return self.merged().get(ROOT_STATE, {}).get(f"is_hydrated{FIELD}") is True

    async def boot(
        self,
        path: str,
        *,
        hashes: list[str] | None = None,
        query: dict[str, str] | None = None,
        pattern: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Open the socket on `path` (route `pattern` for a dynamic one) as the frontend does —
        with the compiled initialState's `hashes` on a page's first load, without them on a
        reconnect — and return the merged deltas once the page is hydrated."""
        self.path = path
        self.deltas.clear()
        boot = self._event(
            f"{ROOT_STATE}.hydrate_and_load", {"hashes": hashes} if hashes else None, query
        )
        if pattern:
            boot["router_data"]["pathname"] = pattern
        await self.sio.connect(
            f"{self.base}?token={self.token}",
            headers=self.headers,
            auth={"event": boot},
            socketio_path=NAMESPACE,
            transports=["websocket"],
            namespaces=[NAMESPACE],
            wait_timeout=30,
        )
        async with asyncio.timeout(60):
            while not self.hydrated():
                self._arrived.clear()
                await self._arrived.wait()
        return self.merged()

    async def send(self, name: str, payload: dict[str, Any]) -> None:
        """Send one event (full handler name) and wait for its first update."""
        self._arrived.clear()
        await self.sio.emit("event", self._event(name, payload), namespace=NAMESPACE)
        await asyncio.wait_for(self._arrived.wait(), 30)

    async def close(self) -> None:
        await self.sio.disconnect()
        http = self.sio.eio.http  # engineio leaves the client's aiohttp session to the loop
        if http is not None and not http.closed:
            await http.close()
