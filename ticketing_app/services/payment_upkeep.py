"""Payment upkeep that runs beside requests: clean up after ended orders, retry refunds.

- `cancel_open_intent`: after an order expires or is cancelled, cancel its open PaymentIntent
  at Stripe so the page's stale client secret cannot charge it; if it succeeded in the
  meantime (the race), settle it, which refunds it. `install_intent_canceller` subscribes it to
  OrderExpired/OrderCancelled (after commit, on a small thread pool: never in the transaction,
  never blocking the caller).
- `retry_pending_refunds`: a sweep for refunds that Stripe refused or a crash interrupted;
  safe to run anywhere, any number of times; `start_refund_sweeper` runs it every minute.
`install_payment_upkeep()` starts both, once per app process (`ticketing_app.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ticketing_app import outbox
from ticketing_app.db import read_session, write_session
from ticketing_app.errors import ServiceUnavailable
from ticketing_app.models import Charge, ChargeStatus, Order, OrderStatus, utcnow
from ticketing_app.services import stripe_gateway as gateway
from ticketing_app.services.settlement import REFUND_LEASE, settle_intent, settle_payment

log = logging.getLogger(__name__)


def retry_pending_refunds(db: Session, *, now: datetime, limit: int = 100) -> int:
    """The safety net for refunds whose claim went quiet (Stripe down, a crash): settle again.

    Safe to run from any number of workers at once; returns how many intents it settled.
    """
    with db.begin():
        intent_ids = list(
            db.exec(
                select(Charge.stripe_id)
                .join(Order, Order.id == Charge.order_id)
                .where(
                    Charge.status == ChargeStatus.SUCCEEDED,
                    Charge.updated_at <= now - REFUND_LEASE,
                    sa.or_(
                        Order.status != OrderStatus.COMPLETE,
                        Order.payment_intent_id.is_(None),
                        Order.payment_intent_id != Charge.stripe_id,
                    ),
                )
                .order_by(Charge.updated_at)
                .limit(limit)
            )
        )
    settled = 0
    for intent_id in intent_ids:
        try:
            if (
                intent_id
                and settle_payment(db, payment_intent_id=intent_id, now=now).outcome == "refunded"
            ):
                settled += 1
        except (gateway.GatewayError, ServiceUnavailable) as exc:
            log.warning("refund retry of %s failed: %s", intent_id, exc)
    return settled


def cancel_open_intent(order_id: str, *, url: str | None = None) -> str | None:
    """Best effort, after an order ended: cancel its open PaymentIntent at Stripe.

    If the intent succeeded in the meantime (the race), settle it — which refunds it.
    Returns the intent's final status, or None when there was nothing to do.
    """
    with read_session(url) as db:
        order = db.get(Order, order_id)
        intent_id = order.payment_intent_id if order else None
        if (
            order is None
            or order.status in (OrderStatus.CREATED, OrderStatus.COMPLETE)
            or not intent_id
        ):
            return None
    try:
        intent = gateway.cancel_intent(intent_id)
        if intent.status == "succeeded":
            with write_session(url) as db:
                settle_intent(db, intent=intent, now=utcnow())
    except (gateway.GatewayError, ServiceUnavailable) as exc:
        log.warning("could not clean up PaymentIntent %s of order %s: %s", intent_id, order_id, exc)
        return None
    return intent.status


_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stripe-cleanup")
_pending: set[Future[str | None]] = set()
_pending_lock = threading.Lock()


def install_intent_canceller(url: str | None = None) -> Callable[[], None]:
    """Subscribe `cancel_open_intent` to OrderExpired/OrderCancelled; returns the unsubscribe."""

    def on_event(event: outbox.Event) -> None:
        if event.type not in ("OrderExpired", "OrderCancelled"):
            return
        if event.payload.get("hasPaymentIntent") is False:  # nothing at Stripe to clean up
            return
        future = _executor.submit(cancel_open_intent, event.aggregate_id, url=url)
        with _pending_lock:
            _pending.add(future)
        future.add_done_callback(_forget)

    return outbox.subscribe(on_event)


def _forget(future: Future[str | None]) -> None:
    with _pending_lock:
        _pending.discard(future)


def wait_for_cleanups(timeout: float = 30.0) -> None:
    """Block until background intent clean-ups finish (tests, shutdown)."""
    with _pending_lock:
        futures = list(_pending)
    for future in futures:
        future.result(timeout=timeout)


def start_refund_sweeper(url: str | None = None, interval: float = 60.0) -> Callable[[], None]:
    """Run `retry_pending_refunds` every `interval` seconds on a daemon thread; returns stop.

    Every worker may run one: a refund is only ever taken over by compare-and-set.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                with write_session(url) as db:
                    retry_pending_refunds(db, now=utcnow())
            except Exception:  # keep sweeping; the next round retries
                log.exception("refund sweep failed")

    threading.Thread(target=loop, name="stripe-refund-sweep", daemon=True).start()
    return stop.set


def install_payment_upkeep(url: str | None = None) -> Callable[[], None]:
    """What the app process runs beside requests: the intent canceller, and the refund sweep.

    The sweep starts with the first domain event this process commits, so processes that only
    import the app (the Reflex compile step) never start it. Returns an uninstall function.
    """
    unsubscribe_canceller = install_intent_canceller(url)
    stops: list[Callable[[], None]] = []
    lock = threading.Lock()

    def start_on_first_event(_event: outbox.Event) -> None:
        with lock:
            if not stops:
                stops.append(start_refund_sweeper(url))

    unsubscribe_starter = outbox.subscribe(start_on_first_event)

    def uninstall() -> None:
        unsubscribe_canceller()
        unsubscribe_starter()
        with lock:
            for stop in stops:
                stop()

    return uninstall
