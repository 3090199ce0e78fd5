"""axe-core on a live page (axe-playwright-python): WCAG 2.0/2.1/2.2 A and AA rules.

``assert_accessible(page, screen)`` runs axe on what the page shows now and fails with a
readable list of the violations (rule, impact, the offending elements). The journeys call it on
every screen they photograph (``tests.browser.test_login_journey.shot``); ``test_axe.py`` walks
the screens in both languages at desktop and phone sizes.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}

_axe = Axe()
_running: list[Page] = []


def running(page: Page) -> bool:
    """Whether axe is at work on ``page`` now: the inline styles it tries while measuring are
    refused by the Content-Security-Policy, and those refusals are not the portal's."""
    return page in _running


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (WCAG A/AA)."""
    _running.append(page)
    try:
        return list(_axe.run(page, options=OPTIONS).response["violations"])
    finally:
        _running.remove(page)


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {', '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Page, screen: str) -> None:
    found = violations(page)
    assert not found, f"axe on {screen} ({page.url}):\n{describe(found)}"
