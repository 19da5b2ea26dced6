"""The baseline of bench_clients.py: a blank Reflex app with one page, run the same way as
ours (`reflex run --env prod --backend-only`, one worker, in-memory state manager)."""

import reflex as rx

config = rx.Config(app_name="blank", telemetry_enabled=False, show_built_with_reflex=False)
