"""Static deploy (SPEC §8): `reflex export --frontend-only` with API_URL pointing at a backend
started separately (`reflex run --env prod --backend-only`), the exported files served by a
plain static server, and a real Chromium that signs in and sees a listed ticket.

The export runs in a throwaway mirror of the project (tests/e2e/app_server.py) so it never
touches the shared `.web/`. Sign-in goes through the page, the cookie bridge on the backend
(a different port of the same host, so the same site for SameSite=Lax), and back.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import PASSWORD, unique_email

from tests.support import Server, child_env, free_port, spawn_server
from tests.support.servers import VENV_BIN


@pytest.fixture(scope="module")
def static_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def backend(static_port: int) -> Iterator[Server]:
    # The static site is the deployment's public address: its pages' origin is the one the
    # backend's socket and CORS accept.
    with spawn_server("backend", {"PUBLIC_URL": f"http://127.0.0.1:{static_port}"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def static_site(backend: Server, static_port: int) -> Iterator[str]:
    """Export the frontend for `backend` and serve it with `python -m http.server`."""
    from e2e.app_server import _mirror_project

    workdir = Path(tempfile.mkdtemp(prefix="ticketing-export-"))
    try:
        _mirror_project(workdir)
        result = subprocess.run(
            [str(VENV_BIN / "reflex"),
             "export", "--frontend-only", "--no-zip", "--env", "prod"],
            cwd=workdir, env=child_env({"API_URL": backend.base_url}),
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        client = workdir / ".web" / "build" / "client"
        assert backend.base_url in (workdir / ".web" / "env.json").read_text()
        with spawn_server("static", port=static_port, directory=client) as site:
            yield site.url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.e2e
def test_exported_frontend_signs_in_and_lists_tickets(backend: Server, static_site: str) -> None:
    from playwright.sync_api import expect

    from e2e.chromium import chromium
    from e2e.helpers import sign_in

    title = f"Static gig {uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=backend.base_url, timeout=30) as seller:
        seller.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        assert seller.post("/api/tickets", json={"title": title, "price": 12}).status_code == 201
    email = unique_email("static")
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        r = api.post("/api/users/signup", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201

    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, static_site, email, PASSWORD)
        expect(page.get_by_test_id("nav-user")).to_have_text(email, timeout=30_000)
        assert page.url.startswith(static_site)  # back on the static site after the bridge
        cookies = {c["name"]: c for c in page.context.cookies(backend.base_url)}
        assert cookies["session"]["httpOnly"] and cookies["session"]["sameSite"] == "Lax"
        page.goto(static_site + "/")
        expect(page.get_by_text(title)).to_be_visible(timeout=30_000)
