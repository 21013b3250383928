"""The browser tests' Chromium: Debian's, headless, driven by Playwright, and the hotline served
over real HTTP for it to open. A pytest plugin of conftest.py (``pytest_plugins``): its
fixtures (``browser``, ``page``, ``live_app``) are everyone's.

Needs ``pip install playwright`` (the ``test`` extra) and Debian's ``chromium`` package at
/usr/bin/chromium (``.ci/run`` installs it); never ``playwright install``, whose browser
download does not work here. Without them a browser test is skipped, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr import create_app

from conftest import AUTH_TOKEN, ROOT, bucharest
from servers import werkzeug_thread

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
# Without the background-networking flags Chromium keeps trying to reach Google's services,
# which on a closed network is a stream of refused connections.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def live_app(app_config, twilio, clock):
    """The hotline served over real HTTP on 127.0.0.1 (a threaded werkzeug server on a free
    port), its Twilio account being the stand-in, so the console can play recordings.
    Yields (app, base URL). The clock is set to 22:30 on a Tuesday: every department is closed."""
    clock.now = bucharest(2026, 11, 17, 22, 30)
    app = create_app({
        **app_config,
        "SECRET_KEY": "browser-test-secret",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "LOCAL_TRIAL_TOKEN": False,
    })
    with werkzeug_thread(app) as base_url:
        yield app, base_url


@pytest.fixture
def browser():
    """Debian's Chromium, headless, through Playwright; skipped (saying why) without either."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip(f"browser test needs Debian's Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (its own cookies) with a 15-second limit on every wait."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ro-RO")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
