"""Shared set-up of the browser tests: Debian's chromium driven by Playwright (it never
downloads a browser here) against pytest-django's live server.

Playwright's sync API keeps an event loop in the test's thread, which Django takes for async
code: the test's own ORM calls are allowed explicitly, for browser tests only, and the
thread's connections are closed before the live server stops. Screenshots go to
var/screenshots/ (``make screenshots`` copies them to docs/screenshots/ for the README)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE_SCREEN = {"width": 390, "height": 844}
PHONE = {"viewport": PHONE_SCREEN, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@contextmanager
def browser_page(profile: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Page]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS, locale="ru-RU", **options)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            connections.close_all()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def admin_login(page: Page, base_url: str, username: str, password: str, next_path: str = "/admin/") -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("input[type=submit]").click()
    expect(page.locator("#user-tools")).to_be_visible()
