import os

import reflex as rx

from ticketing_app.settings import get_settings

_settings = get_settings()
_redis = _settings.redis_url or os.environ.get("REFLEX_REDIS_URL")
# Plain FRONTEND_PORT / BACKEND_PORT / API_URL (Reflex itself only reads REFLEX_-prefixed
# names), and only when set: a configured frontend port makes `reflex run --backend-only`
# refuse to start. API_URL is where an exported static frontend finds the backend.
_from_env = {
    field: cast(os.environ[name])
    for field, name, cast in (
        ("frontend_port", "FRONTEND_PORT", int),
        ("backend_port", "BACKEND_PORT", int),
        ("api_url", "API_URL", str),
    )
    if os.environ.get(name)
}

config = rx.Config(
    app_name="ticketing_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # No db_url: the app opens its own engines (ticketing_app/db.py, DATABASE_URL) and never
    # uses rx.Model / rx.session. Given one, Reflex compared the models with the database on
    # every start and reported the SQLite search index (migration 0003) as "schema changes".
    redis_url=_settings.redis_url,
    # Without Redis there is one backend worker (README): its states live in its memory, not
    # pickled to `.states/` per state per client (Reflex's default, the disk manager: about
    # half of a connecting client's backend CPU). A restart loses them; every page re-derives
    # its state from the database and the cookie on (re)connect (docs/decisions.md 96). With
    # Redis, Reflex picks its Redis manager (mode left unset). The app then swaps Reflex's
    # in-memory manager for one that builds a tab's page states as they are used
    # (ticketing_app/state/tree.py, decision 102).
    **({} if _redis else {"state_manager_mode": "memory"}),
    # Only the deployment's own pages may call the backend with the visitor's cookie (CORS)
    # or open its socket as the signed-in user (Reflex's default is "*"): PUBLIC_URL plus
    # TICKETING_ALLOWED_ORIGINS (docs/api.md, decisions).
    cors_allowed_origins=_settings.allowed_origins,
    plugins=[
        rx.plugins.SitemapPlugin(),
        # The app-wide Radix theme (was `rx.App(theme=...)`, deprecated since Reflex 0.9).
        rx.plugins.RadixThemesPlugin(
            # "inherit": light or dark as the system says, until the navbar's theme menu picks one.
            theme=rx.theme(appearance="inherit", accent_color="indigo", radius="large")
        ),
    ],
    **_from_env,
)
