"""Run the real app (`reflex run --env prod`) in a throwaway copy of the project.

Why a copy: Reflex compiles into `.web/` and bakes the backend port into the production
bundle, so two servers built in one checkout (another engineer's run, a second test session)
would overwrite each other's frontend. The copy snapshots the app code, symlinks the rest
and hard-links `node_modules`, so it is cheap, and each server gets its own `.web/` and build.
`mode="dev"` runs it like `make run` (Vite dev server + backend on two ports).

Usage (any test package can import it, or call `tests.support.spawn_server("app", env)`):
    server = start_app({"TICKETING_LOCK_SECONDS": "5"})   # SQLite DB made and migrated for you
    page.goto(server.url + "/")
    server.stop()
The process is a `tests.support.Server` (free port, environment, start/stop in one place).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

import httpx
import reflex_base

from tests.support.servers import ROOT, VENV_BIN, Server, child_env, free_port

LINKED = ("alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")
# Copied, not linked: the app code is a snapshot (a half-saved file elsewhere in the checkout
# cannot break a running server, and dev mode's reloader does not restart on others' edits).
COPIED = ("ticketing_app", "reflex.lock")
WEB_SKIP = {"node_modules", "build", ".react-router", "public"}


class AppServer(Server):
    """A running app. In prod mode `url` serves both the pages and the API on one port; in dev
    mode `url` is the Vite frontend and `backend_url` the API/WebSocket server."""

    def __init__(self, *, backend_url: str, database_url: str, **kwargs: object) -> None:
        super().__init__("app", **kwargs)  # type: ignore[arg-type]
        self.backend_url = backend_url
        self.database_url = database_url

    def stop(self) -> None:
        """Stop the whole process group (reflex, its workers and node), then remove the copy."""
        Server.stop(self)
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
    """`tests.support.child_env` with a 120 s reservation window unless `extra` says otherwise."""
    return child_env({"TICKETING_LOCK_SECONDS": "120", **(extra or {})})


def migrate(database_url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def _answers(url: str):  # type: ignore[no-untyped-def]
    def probe(_server: Server) -> bool:
        try:
            return httpx.get(url, timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


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
    Also reachable as `tests.support.spawn_server("app", env, ...)`.
    """
    workdir = Path(tempfile.mkdtemp(prefix="ticketing-app-"))
    full_env = base_env(env)
    database_url = database_url or full_env.get("DATABASE_URL") or f"sqlite:///{workdir}/e2e.db"
    full_env["DATABASE_URL"] = database_url
    _mirror_project(workdir)
    migrate(database_url, full_env)
    port = free_port()
    backend_port = port if mode == "prod" else free_port()
    url, backend_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{backend_port}"
    # The pages' origin: the only one the socket and CORS accept (settings.allowed_origins).
    full_env.setdefault("PUBLIC_URL", url)
    server = AppServer(
        argv=[
            str(VENV_BIN / "reflex"),
            "run",
            "--env",
            mode,
            "--frontend-port",
            str(port),
            "--backend-port",
            str(backend_port),
        ],
        port=port,
        url=url,
        ready=[_answers(backend_url + "/api/health"), _answers(url + "/")],
        env=full_env,
        workdir=workdir,
        log_path=workdir / "app.log",
        cwd=workdir,
        timeout=timeout,
        stop_timeout=15,
        backend_url=backend_url,
        database_url=database_url,
    )
    try:
        server.start()
    except BaseException:
        print(server.log_tail())
        server.stop()
        raise
    return server
