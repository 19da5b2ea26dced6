"""Production backend as deployed: `reflex run --env prod --backend-only --backend-port PORT`
serves the REST API (mounted on Reflex's own app via api_transformer) on that port.

Runs in a throwaway directory that symlinks the sources, so Reflex writes its `.states/` and
`.web/backend/` there and never into the shared checkout (other engineers build `.web/`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from api_helpers import (
    PASSWORD,
    ROOT,
    assert_error,
    cookie_header_parts,
    free_port,
    migrate,
    unique_email,
    wait_until_up,
)

LINKED = ("ticketing_app", "alembic", "alembic.ini", "assets", "rxconfig.py", "requirements.txt")


@pytest.fixture(scope="module")
def reflex_backend() -> Iterator[str]:
    workdir = Path(tempfile.mkdtemp(prefix="ticketing-backend-"))
    for name in LINKED:
        if (ROOT / name).exists():
            (workdir / name).symlink_to(ROOT / name)
    db_url = f"sqlite:///{workdir / 'backend.db'}"
    migrate(db_url)
    port = free_port()
    venv_bin = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_USE_NPM": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "DATABASE_URL": db_url,
        "TICKETING_LOCK_SECONDS": "42",
    }
    for name in ("FRONTEND_PORT", "BACKEND_PORT", "REDIS_URL", "NATS_URL", "API_URL"):
        env.pop(name, None)
    log_path = workdir / "reflex.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(venv_bin / "reflex"), "run", "--env", "prod", "--backend-only",
             "--backend-port", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/api/health", proc, log_path, timeout=180)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


@pytest.mark.slow
def test_reflex_prod_backend_serves_the_api(reflex_backend: str) -> None:
    with httpx.Client(base_url=reflex_backend, timeout=30) as seller:
        assert seller.get("/api/health").json() == {"status": "ok", "db": True}
        r = seller.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        assert r.status_code == 201
        assert "httponly" in cookie_header_parts(r)
        ticket = seller.post("/api/tickets", json={"title": "Prod gig", "price": 15.5}).json()
        assert ticket["price"] == 15.5
        listed = seller.get("/api/tickets", params={"q": "Prod gig"}).json()
        assert [t["id"] for t in listed] == [ticket["id"]]
    with httpx.Client(base_url=reflex_backend, timeout=30) as buyer:
        buyer.post("/api/users/signup", json={"email": unique_email(), "password": PASSWORD})
        order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}).json()
        held = datetime.fromisoformat(order["expiresAt"]) - datetime.fromisoformat(
            order["createdAt"]
        )
        assert held.total_seconds() == 42  # TICKETING_LOCK_SECONDS from the environment


def test_reflex_mount_keeps_api_errors_in_shape(reflex_backend: str) -> None:
    """Reflex's own app is mounted at the root behind ours; /api paths stay ours."""
    with httpx.Client(base_url=reflex_backend, timeout=30) as c:
        assert_error(c.get("/api/no-such-route"), 404, "Not found")
        r = c.patch("/api/tickets")
        assert_error(r, 405)
        assert {m.strip() for m in r.headers["allow"].split(",")} <= {"GET", "HEAD", "POST"}
        assert c.get("/ping").status_code == 200  # Reflex's endpoints still answer
        assert c.get("/api/openapi.json").json()["info"]["title"] == "Ticketing API"
