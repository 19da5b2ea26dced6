"""Entry point: `python -m ticketing_app.outbox tail|replay` (see cli.py)."""

import sys

from ticketing_app.outbox.cli import main

sys.exit(main())
