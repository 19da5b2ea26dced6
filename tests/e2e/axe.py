"""axe-core in the real browser: `assert_accessible(page, "what is shown")` checks the page as
it is now in light mode, dark mode and at 390×844, and fails listing every violation.

axe-core comes from the npm registry into tools/ (`make axe`, which `make test` runs; pinned
in the Makefile), never from a CDN: the script is injected from that file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

AXE = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.x A and AA, plus axe's best practices (landmarks, one h1, heading order, ...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PHONE = {"width": 390, "height": 844}
DARK = re.compile(r"\bdark\b")


def _violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return result["violations"]


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [", ".join(node["target"]) for node in v["nodes"][:5]]
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} -> {targets}")
        summary = v["nodes"][0].get("failureSummary", "")
        lines.append("    " + summary.replace("\n", " | ")[:300])
    return "\n".join(lines)


TOASTS_SETTLED = """() => [...document.querySelectorAll('[data-sonner-toast]')].every(
    (toast) => toast.getAttribute('data-mounted') === 'true'
        && toast.getAnimations({ subtree: true }).every((a) => a.playState !== 'running'))"""


def assert_accessible(page: Page, what: str) -> None:
    """No axe violations on the page as shown: light, dark, and on a phone (light)."""
    if not AXE.exists():
        pytest.skip(f"axe-core not installed at {AXE} (run `make axe`)")
    page.wait_for_load_state("networkidle")
    size = page.viewport_size
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for mode in ("light", "dark", "phone"):
            page.emulate_media(color_scheme="dark" if mode == "dark" else "light")
            html = expect(page.locator("html"))
            if mode == "dark":
                html.to_have_class(DARK)
            else:
                html.not_to_have_class(DARK)
            if mode == "phone":
                page.set_viewport_size(PHONE)
            page.wait_for_timeout(150)  # Radix's theme transition settles
            # A toast still sliding in is half transparent, so its contrast reads low: check
            # it once its entrance transitions have finished (a condition, not a sleep).
            page.wait_for_function(TOASTS_SETTLED)
            if violations := _violations(page):
                found[mode] = violations
    finally:
        page.emulate_media(color_scheme="light")
        if size:
            page.set_viewport_size(size)
    if found:
        report = "\n".join(f"[{mode}]\n{_describe(v)}" for mode, v in found.items())
        raise AssertionError(f"axe violations on {what}:\n{report}")


def violations_json(page: Page) -> str:
    """For debugging: the raw violations of the page as shown."""
    return json.dumps(_violations(page), indent=1)
