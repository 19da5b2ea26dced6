"""`python -m ticketing_app.admin grant-operator EMAIL` / `revoke-operator EMAIL`: the only
way to make someone an operator (no page or route can)."""

from __future__ import annotations

import argparse
import sys

from ticketing_app.db import write_session
from ticketing_app.errors import DomainError
from ticketing_app.models import utcnow
from ticketing_app.services import operators


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing_app.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("grant-operator", "make a user an operator"),
        ("revoke-operator", "take the operator role away"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("email")
    args = parser.parse_args(argv)
    try:
        with write_session() as db:
            user = operators.set_operator(
                db, email=args.email, operator=args.command == "grant-operator", now=utcnow()
            )
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    state = "is now an operator" if user.is_operator else "is no longer an operator"
    print(f"{user.email} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
