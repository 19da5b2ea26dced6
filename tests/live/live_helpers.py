"""What the expiry/live tests share beyond tests/support: their reservation window."""

from __future__ import annotations

LOCK_SECONDS = 2  # TICKETING_LOCK_SECONDS for every test here (conftest.py)
