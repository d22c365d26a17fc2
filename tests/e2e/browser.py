"""Debian's chromium driven by Playwright (never a downloaded browser), axe-core checks and screenshots."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Page, expect, sync_playwright

from .system import ROOT, Mailbox

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Screenshots of every page a journey visits; git-ignored, kept by CI as artifacts.
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
# The closed network here refuses Chromium's own background connections; don't let it try.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERIOUS = {"serious", "critical"}


@dataclass
class Browser:
    chromium: PlaywrightBrowser
    axe: Axe

    def page(self, *, phone: bool = False, locale: str = "en-CA") -> Page:
        context = self.chromium.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale=locale,
            timezone_id="America/Vancouver",
            is_mobile=phone,
            has_touch=phone,
        )
        context.set_default_timeout(15_000)
        return context.new_page()

    def check(self, page: Page, name: str) -> None:
        """Screenshot the page under ``name`` and fail on any serious or critical axe-core violation."""
        shoot(page, name)
        results = self.axe.run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
        listed = "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:3]}" for v in bad
        )
        assert not bad, f"{name}: accessibility violations:\n{listed}"
        assert_no_sideways_scroll(page, name)


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    suffix = "phone" if width and width < 600 else "desktop"
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}-{suffix}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_sideways_scroll(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"


@contextmanager
def launch() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield Browser(chromium=chromium, axe=Axe())
        finally:
            chromium.close()


def finish_sign_up(page: Page, web_url: str, mailbox: Mailbox, email: str) -> None:
    """After 'Create account': the page says to check the inbox; open the e-mailed link and the account."""
    checking = page.get_by_role("heading", name=re.compile("Check your e-mail|Consultez vos courriels"))
    expect(checking).to_be_visible()
    token = mailbox.take_link(email, "sign-up/confirm")
    page.goto(f"{web_url}/sign-up/confirm/{token}")
    page.get_by_role("button", name=re.compile("Open my account|Ouvrir mon compte")).click()
