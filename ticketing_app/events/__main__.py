"""Entry point: `python -m ticketing_app.events tail|replay` (see cli.py)."""

import sys

from ticketing_app.events.cli import main

sys.exit(main())
