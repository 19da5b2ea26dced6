"""Email throughput (SPEC §11, issue 15): N domain events that each produce one email,
planned and sent by the notifier to a local aiosmtpd, against the same number of messages sent
by bare smtplib on one connection in the same run. Prints emails/s for both and the ratio
(target >= 0.5). SQLite by default; `--pg` uses our own PostgreSQL database.

    .venv/bin/python bench/bench_notifications.py [--count 10000] [--pg]
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sqlalchemy as sa  # noqa: E402

import bench.common as common  # noqa: E402,F401  (sys.path, cheap argon2)
from tests.db_helpers import migrate  # noqa: E402
from tests.smtp_helpers import SmtpServer  # noqa: E402
from ticketing_app import outbox  # noqa: E402
from ticketing_app.db import get_engine  # noqa: E402
from ticketing_app.jobs.notifications import Notifier  # noqa: E402
from ticketing_app.lease import FileLease  # noqa: E402
from ticketing_app.mail import SmtpTransport  # noqa: E402
from ticketing_app.models import User, new_id, utcnow  # noqa: E402


def seed(url: str, count: int) -> None:
    """`count` users and their UserCreated events (each one welcome email), by plain SQL."""
    now = utcnow()
    users = [
        {
            "id": new_id(),
            "email": f"bench{i}@example.com",
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pg", action="store_true")
    args = parser.parse_args()
    if args.pg:
        url = common.fresh_postgres(name="ticketing_bench_mail")
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        migrate(url)
    seed(url, args.count)
    smtp = SmtpServer().start()
    try:
        ours = notifier_rate(url, smtp, args.count)
        sample = smtp.inbox.messages[0].message
        smtp.inbox.messages.clear()
        bare = smtplib_rate(smtp, args.count, sample)
    finally:
        smtp.stop()
    print(f"notifier: {ours:,.0f} emails/s   bare smtplib: {bare:,.0f} emails/s")
    print(f"ratio {ours / bare:.2f} (target >= 0.5)  [{'pg' if args.pg else 'sqlite'}]")


if __name__ == "__main__":
    main()
