"""`make run` / `make dev`: start localstripe (when STRIPE_API_BASE points at loopback) and the
Reflex app: `--env prod` (make run) builds the minified frontend and serves it with the API on
one port (give the same port twice); `--env dev` (make dev) runs Vite with hot reload.
Ctrl+C stops both. localstripe keeps its data in memory: test payments start fresh each run."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def start_localstripe(base: str) -> subprocess.Popen[bytes] | None:
    url = urlparse(base)
    host, port = url.hostname or "127.0.0.1", url.port or 8420
    if host not in ("127.0.0.1", "localhost") or _listening(host, port):
        return None
    proc = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "localstripe"),
            "--port",
            str(port),
            "--from-scratch",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not _listening(host, port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"localstripe did not start on port {port}")
        time.sleep(0.2)
    print(f"localstripe (test-mode Stripe) on {base}")
    return proc


def register_webhook(base: str, backend_port: str) -> None:
    """Have localstripe deliver signed webhooks to this app, as Stripe would."""
    from ticketing_app.settings import get_settings

    body = urlencode(
        {
            "url": f"http://127.0.0.1:{backend_port}/api/webhooks/stripe",
            "secret": get_settings().stripe_webhook_secret,
        }
    ).encode()
    request = Request(f"{base.rstrip('/')}/_config/webhooks/ticketing", data=body, method="POST")
    with urlopen(request, timeout=5):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frontend-port", default="3000")
    parser.add_argument("--backend-port", default="8000")
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()
    stripe = None
    base = os.environ.get("STRIPE_API_BASE")
    if base:
        stripe = start_localstripe(base)
        if stripe is not None:
            register_webhook(base, args.backend_port)
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "reflex"),
        "run",
        "--env",
        args.env,
        "--frontend-port",
        args.frontend_port,
        "--backend-port",
        args.backend_port,
    ]
    # The pages' origin is the one the socket and CORS accept (settings.allowed_origins).
    env = {**os.environ}
    env.setdefault("PUBLIC_URL", f"http://localhost:{args.frontend_port}")
    if env.get("SMTP_URL"):
        print("emails: sent through SMTP_URL")
    else:  # docs/notifications.md
        mail_dir = os.path.abspath(env.get("TICKETING_MAIL_DIR", "var/mail"))
        print(f"emails: written as .eml files to {mail_dir}")
    app = subprocess.Popen(cmd, env=env)
    try:
        sys.exit(app.wait())
    except KeyboardInterrupt:
        app.send_signal(signal.SIGINT)
        app.wait()
    finally:
        if stripe is not None:
            stripe.terminate()


if __name__ == "__main__":
    main()
