"""Browser fixtures: one real app per session (prod build, throwaway SQLite) and Chromium.

Other test packages can start their own app with other settings:
    from e2e.app_server import start_app          # tests/ is on sys.path (rootdir conftest)
    server = start_app({"TICKETING_LOCK_SECONDS": "5", "REDIS_URL": ...}); ...; server.stop()
or use the `app_factory` fixture below, which stops what it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from e2e.app_server import AppServer, start_app
from e2e.chromium import launch_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def app_factory() -> Iterator[Callable[..., AppServer]]:
    """`app_factory(env) -> AppServer`; every server started is stopped at session end."""
    started: list[AppServer] = []

    def factory(env: dict[str, str] | None = None, **kwargs: object) -> AppServer:
        server = start_app(env, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="package")
def app_server(app_factory: Callable[..., AppServer]) -> AppServer:
    """The app with a 120 s reservation window on a fresh SQLite database."""
    return app_factory({"TICKETING_LOCK_SECONDS": "120"})


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright_instance)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """A fresh browser profile per call (its own cookies): one per simulated person."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
