import reflex as rx

from ticketing_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="ticketing_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    db_url=_settings.database_url,
    redis_url=_settings.redis_url,
    plugins=[rx.plugins.SitemapPlugin(), rx.plugins.RadixThemesPlugin()],
    # No frontend_port/backend_port here: Reflex reads FRONTEND_PORT/BACKEND_PORT itself, and a
    # configured frontend port makes `reflex run --backend-only` refuse to start.
)
