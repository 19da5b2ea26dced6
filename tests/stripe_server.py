"""A real localstripe (stateful fake Stripe API + Stripe.js stand-in) on a free port.

Shared by tests/payments (the services talk to it through the real `stripe` SDK) and tests/e2e
(the app under test gets `STRIPE_API_BASE` pointing at it, and the browser loads its Stripe.js).
    ls = start_localstripe(log_dir); ...; ls.stop()
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import stripe

WEBHOOK_SECRET = "whsec_payments_tests"
SECRET_KEY = "sk_test_payments_tests"

# localstripe pickles its whole store to /tmp after every write (slow, and shared by every
# localstripe on the machine); the tests need none of that, so the launcher turns it off.
LAUNCHER = """
import sys
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import start
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
start()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalStripe:
    base_url: str
    proc: subprocess.Popen[bytes]

    @property
    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.base_url})

    def configure_webhook(self, hook_id: str, url: str, events: list[str] | None = None) -> None:
        body: dict[str, Any] = {"url": url, "secret": WEBHOOK_SECRET}
        if events is not None:
            body["events"] = events
        r = httpx.post(f"{self.base_url}/_config/webhooks/{hook_id}", json=body, timeout=10)
        r.raise_for_status()

    def refunds_of(self, intent_id: str) -> list[Any]:
        return list(self.client.v1.refunds.list(params={"payment_intent": intent_id}).data)

    def intent(self, intent_id: str) -> Any:
        return self.client.v1.payment_intents.retrieve(intent_id)

    def pay_as_browser(self, intent_id: str, payment_method: str = "pm_card_visa") -> Any:
        """What Stripe.js `confirmCardPayment` does for the buyer (attach the card, confirm)."""
        intents = self.client.v1.payment_intents
        intents.update(intent_id, params={"payment_method": payment_method})
        try:
            return intents.confirm(intent_id)
        except stripe.CardError:
            return intents.retrieve(intent_id)

    def env(self) -> dict[str, str]:
        """Settings that point an app at this localstripe."""
        return {
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start_localstripe(log_dir: Path, timeout: float = 20) -> LocalStripe:
    """Start localstripe from scratch; returns once it serves its Stripe.js."""
    port = free_port()
    log = (log_dir / "localstripe.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()  # the child keeps its own handle
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{base}/js.stripe.com/v3/", timeout=1)
            return LocalStripe(base_url=base, proc=proc)
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.2)
