"""Playwright pages in Debian's Chromium, on emulated phones, with what they logged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DEVICES = ["iPhone 13", "Pixel 5"]  # Playwright's device names: one iOS, one Android phone


@dataclass
class PageLog:
    """What a page did while a test looked at it."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[str, str | None]] = field(default_factory=list)  # (url, failure)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages (dismissed)

    def noisy_console(self) -> list[tuple[str, str]]:
        return [c for c in self.console if c[0] in ("error", "warning")]


@contextmanager
def open_page(chromium, url: str | None = None, device: str | None = None, *, wait: str | None = "networkidle",
              routes: dict | None = None, **options) -> Iterator[tuple[Any, PageLog]]:
    """A fresh browser context (Playwright's ``device`` emulation, then ``options``) and one page, logged;
    ``routes`` ({glob: handler}) answer requests before ``url`` is opened; the context is closed on exit."""
    playwright, browser = chromium
    context = browser.new_context(**{**(playwright.devices[device] if device else {}), **options})
    try:
        page = context.new_page()
        log = PageLog()
        page.on("console", lambda m: log.console.append((m.type, m.text)))
        page.on("request", lambda r: log.requests.append(r.url))
        page.on("requestfailed", lambda r: log.failed.append((r.url, r.failure)))
        page.on("pageerror", lambda e: log.errors.append(str(e)))
        page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
        for pattern, handler in (routes or {}).items():
            page.route(pattern, handler)
        if url is not None:
            page.goto(url)
            if wait:
                page.wait_for_load_state(wait)
        yield page, log
    finally:
        context.close()
