"""Opening pages in Debian's headless Chromium through Playwright, collecting JS errors."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google's servers, which this closed
    # network refuses, many connections at a time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError(
            "Chromium is not installed: run `make test`, which installs Debian's chromium"
        )
    return path


@contextmanager
def open_page(url: str, width: int = 1600, height: int = 1000) -> Iterator:
    """A loaded page; ``page.errors`` lists console errors and uncaught exceptions."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = browser.new_page()
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    page.errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.goto(url, wait_until="load")
            yield page
        finally:
            browser.close()
