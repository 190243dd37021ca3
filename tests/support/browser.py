"""Headless Chromium for page tests, driven with Playwright on the system's browser (``/usr/bin/chromium``).

Playwright never downloads a browser here: it launches the given executable with a fresh profile
(a temporary ``--user-data-dir`` it removes afterwards) and no network features.
"""

from __future__ import annotations

import contextlib
import os
import shutil

#: Flags for a quiet, offline headless run (Playwright adds ``--headless`` and a fresh profile).
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync")


def chromium_path() -> str | None:
    """The Chromium to drive (``$CHROMIUM``, else ``chromium`` on PATH), or ``None``."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """Why a page test cannot run here (``None`` when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (dev extra)"
    if chromium_path() is None:
        return "no chromium on PATH (CI installs Debian's chromium)"
    return None


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A Playwright page in a fresh headless Chromium; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
            yield context.new_page()
        finally:
            browser.close()
