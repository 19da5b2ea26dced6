"""Email throughput (SPEC §11, issue 15), in two parts.

1. Emails/s: N domain events that each produce one email, planned and sent by the notifier to a
   local aiosmtpd, against the same number of messages sent by bare smtplib on one connection
   in the same run. Prints emails/s for both and the ratio (target >= 0.5).
2. The API while a burst drains (`--drain`, on by default; `--no-drain` skips it): the real
   backend (`reflex run --env prod --backend-only`, one worker, whose lifespan runs the
   notifier as in production) sending to an aiosmtpd in a process of its own. C buyers race
   for fresh tickets over `POST /api/orders` (bench_http_reserve.race) for --window seconds
   while the backend is idle, then for as long right after N events were committed at once
   (still draining at the window's end: checked); rounds alternate, best of each. Prints the
   reservation attempts/s of each, their ratio (target >= 0.8), and how long the burst took.

SQLite by default; `--pg` uses our own PostgreSQL database.

    .venv/bin/python bench/bench_notifications.py [--count 10000] [--pg] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sqlalchemy as sa  # noqa: E402

# The drain part's HTTP reservation race (bench/ is on sys.path: this script's folder).
from bench_http_reserve import buyer_sessions, race, signup  # noqa: E402

import bench.common as common  # noqa: E402,F401  (sys.path, cheap argon2)
from tests.smtp_helpers import SmtpServer, free_port  # noqa: E402
from tests.support import spawn_server  # noqa: E402
from tests.support.servers import NO_LISTING_LIMITS, VENV_BIN  # noqa: E402
from ticketing_app import outbox  # noqa: E402
from ticketing_app.db import dispose_engines, get_engine  # noqa: E402
from ticketing_app.jobs.notifications import Notifier  # noqa: E402
from ticketing_app.lease import FileLease  # noqa: E402
from ticketing_app.mail import SmtpTransport  # noqa: E402
from ticketing_app.models import User, new_id, utcnow  # noqa: E402


def seed(url: str, count: int, prefix: str = "bench") -> None:
    """`count` users and their UserCreated events (each one welcome email), by plain SQL, in
    one transaction: the burst is committed at once."""
    now = utcnow()
    users = [
        {
            "id": new_id(),
            "email": f"{prefix}{i}@example.com",
            "password_hash": "x",
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "email_verified_at": None,
        }
        for i in range(count)
    ]
    with get_engine(url).begin() as conn:
        conn.execute(sa.insert(User.__table__), users)
        outbox.write_rows(
            conn,
            [
                outbox.NewEvent(
                    "UserCreated", "user", u["id"], 1, {"id": u["id"], "email": u["email"]}
                )
                for u in users
            ],
            now=now,
        )


def notifier_rate(url: str, smtp: SmtpServer, count: int) -> float:
    notifier = Notifier(
        database_url=url,
        transport=lambda: SmtpTransport(smtp.url),
        lease=FileLease("bench", 10.0, scope=url),
    )
    start = time.perf_counter()
    while len(smtp.inbox.messages) < count:
        notifier.run_once()
    return count / (time.perf_counter() - start)


def smtplib_rate(smtp: SmtpServer, count: int, sample: EmailMessage) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp.port) as conn:
        for i in range(count):
            del sample["To"]
            sample["To"] = f"plain{i}@example.com"
            conn.send_message(sample)
    return count / (time.perf_counter() - start)


def fresh_database(pg: bool, name: str) -> str:
    return common.fresh_postgres(name=name) if pg else common.fresh_sqlite()


def emails_part(pg: bool, count: int, rounds: int) -> None:
    """`rounds` alternating rounds of the notifier (a fresh database each) and bare smtplib,
    against one aiosmtpd; the best of each."""
    ours, bare = [], []
    smtp = SmtpServer().start()
    try:
        for _ in range(rounds):
            url = fresh_database(pg, "ticketing_bench_mail")
            seed(url, count)
            smtp.inbox.messages.clear()
            ours.append(notifier_rate(url, smtp, count))
            sample = smtp.inbox.messages[0].message
            smtp.inbox.messages.clear()
            bare.append(smtplib_rate(smtp, count, sample))
            dispose_engines()
            print(f"  round: notifier {ours[-1]:,.0f} emails/s, bare smtplib {bare[-1]:,.0f}/s")
    finally:
        smtp.stop()
    best, baseline = max(ours), max(bare)
    print(
        f"{count:,} emails: notifier {best:,.0f} emails/s   bare smtplib {baseline:,.0f} "
        f"emails/s (best of {rounds})"
    )
    print(f"  ratio {best / baseline:.2f} (target >= 0.5)")


# -- part 2: the API while a burst drains ---------------------------------------------------------
def sent_count(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM deliveries WHERE status = 'sent'")
        ).scalar_one()


async def races_for(sessions, base: str, url: str, seller: str, until) -> tuple[float, int]:
    """Back-to-back races (50 fresh tickets each) until `until()`; attempts/s over them all."""
    attempts, elapsed, races = 0, 0.0, 0
    while not until() or races == 0:
        tickets = common.seed_tickets(get_engine(url), seller, 50)
        began = time.perf_counter()
        _rate, latencies = await race(sessions, base, tickets, 10)
        elapsed += time.perf_counter() - began
        attempts += len(latencies)
        races += 1
    return attempts / elapsed, races


async def drain_rounds(
    base: str, url: str, clients: int, count: int, rounds: int, window: float
) -> None:
    """Alternating rounds: races for `window` s on an idle backend, then for `window` s right
    after a burst of `count` events committed (checked: still draining at the window's end).
    Prints the best of each and, less sensitive to the machine's swings, each round's own
    draining/idle ratio."""
    (seller,) = common.seed_users(get_engine(url), 1, "seller")
    sessions = buyer_sessions(clients)
    idle_rates, drain_rates = [], []

    def for_window():
        deadline = time.monotonic() + window
        return lambda: time.monotonic() >= deadline

    try:
        for i in range(0, clients, 20):
            await asyncio.gather(*(signup(s, base) for s in sessions[i : i + 20]))
        # Warm up, and let the welcome emails of the C buyers go out before measuring.
        await races_for(sessions, base, url, seller, lambda: True)
        while sent_count(url) < clients:
            await asyncio.sleep(0.2)
        for r in range(rounds):
            rate, races = await races_for(sessions, base, url, seller, for_window())
            idle_rates.append(rate)
            print(f"  round {r + 1} idle:     {rate:6.0f} reservation attempts/s ({races} races)")
            before = sent_count(url)
            target = before + count
            seed(url, count, prefix=f"burst{r}-")
            began = time.monotonic()
            while sent_count(url) == before:  # the notifier has picked the burst up
                await asyncio.sleep(0.05)
            rate, races = await races_for(sessions, base, url, seller, for_window())
            sent_under_load = sent_count(url) - before
            assert sent_under_load < count, "the burst drained within the window: raise --count"
            drain_rates.append(rate)
            while sent_count(url) < target:
                await asyncio.sleep(0.1)
            emails = count / (time.monotonic() - began)
            print(
                f"  round {r + 1} draining: {rate:6.0f} reservation attempts/s ({races} races, "
                f"{sent_under_load:,} emails sent meanwhile); all {count:,} in "
                f"{count / emails:.0f} s ({emails:,.0f}/s)"
            )
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
        dispose_engines()
    idle, drain = max(idle_rates), max(drain_rates)
    paired = ", ".join(f"{d / i:.2f}" for d, i in zip(drain_rates, idle_rates, strict=True))
    print(
        f"reservations while {count:,} emails drain: {drain:,.0f}/s vs idle {idle:,.0f}/s: "
        f"ratio {drain / idle:.2f} (target >= 0.8); per round {paired}"
    )


def drain_part(pg: bool, count: int, clients: int, rounds: int, window: float) -> None:
    url = fresh_database(pg, "ticketing_bench_drain")
    workdir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    port = free_port()
    sink = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {"DATABASE_URL": url, "SMTP_URL": f"smtp://127.0.0.1:{port}", **NO_LISTING_LIMITS}
    server = spawn_server("backend", env, log_path=workdir / "backend.log")
    try:
        asyncio.run(drain_rounds(server.base_url, url, clients, count, rounds, window))
    finally:
        server.remove()
        sink.terminate()
        sink.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--drain", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--emails", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of races per round")
    args = parser.parse_args()
    common.header(f"Email throughput, {'PostgreSQL' if args.pg else 'SQLite'}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.emails:
        emails_part(args.pg, args.count, args.rounds)
    if args.drain:
        drain_part(args.pg, args.count, args.clients, args.rounds, args.window)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
