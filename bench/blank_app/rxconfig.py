"""The baseline of bench_clients.py: a blank Reflex app with one page, run the same way as
ours (`reflex run --env prod --backend-only`, one worker) and with the same Reflex config
choices that cost per client: the in-memory state manager, as ours uses without Redis
(rxconfig.py). A change there belongs here too, or the ratio compares two configurations."""

import reflex as rx

config = rx.Config(
    app_name="blank",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    state_manager_mode="memory",
)
