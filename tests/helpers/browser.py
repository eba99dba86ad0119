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


# ---- what a person on a phone sees of the player (issue 12): evaluated in the page ----

# The picture inside the <video> box (object-fit: contain), from the box and the video's intrinsic size.
PICTURE_JS = """() => { const v = document.querySelector('video'), b = v.getBoundingClientRect();
  const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight), w = v.videoWidth * s, h = v.videoHeight * s;
  return {x: b.x + (b.width - w) / 2, y: b.y + (b.height - h) / 2, width: w, height: h,
          video: [v.videoWidth, v.videoHeight], vw: innerWidth, vh: innerHeight}; }"""

PAY_ACTIONS = "#pay, .tc-top .pay, .tc-bar .pay"  # the page's pay button and the player's two pay links
FOCUSABLE = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'

# What a person sees at the page's present scroll position: the picture's rectangle and how much of it is on
# screen between the safe areas ``top`` and ``bottom`` (px from the screen's top and bottom edges); the shown
# focusable elements that intersect the picture (the video itself and, inside ``cta`` = [start, end) of the
# video's time, the pay scene's call-to-action excepted); the pay actions wholly on screen between the safe
# areas, off the picture and the topmost element at their centre (so a tap reaches them): {name, height}; and
# every pay action shown at all.
_LOOK = """(top, bottom, cta) => {
  const v = document.querySelector('video');
  const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const cut = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const b = v.getBoundingClientRect(), w = v.videoWidth, h = v.videoHeight;
  const sc = w && h ? Math.min(b.width / w, b.height / h) : 1, pw = w ? w * sc : b.width, ph = h ? h * sc : b.height;
  const pic = {left: b.left + (b.width - pw) / 2, top: b.top + (b.height - ph) / 2};
  pic.right = pic.left + pw; pic.bottom = pic.top + ph;
  const t = v.currentTime, inCta = !!cta && t >= cta[0] && t < cta[1];
  const over = [...document.querySelectorAll('""" + FOCUSABLE.replace("'", "\\'") + """')]
    .filter(e => e !== v && shown(e) && cut(e.getBoundingClientRect(), pic) && !(inCta && e.classList.contains('tc-cta')))
    .map(e => e.className || e.tagName);
  const pays = [...document.querySelectorAll('""" + PAY_ACTIONS + """')].filter(e => {
    if (!shown(e)) return false;
    const r = e.getBoundingClientRect();
    if (r.top < top - 0.5 || r.bottom > innerHeight - bottom + 0.5 || r.left < -0.5 || r.right > innerWidth + 0.5 || cut(r, pic)) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!hit && (hit === e || e.contains(hit));
  }).map(e => ({name: e.id ? '#' + e.id : '.' + e.parentNode.className, height: e.getBoundingClientRect().height}));
  const anyPay = [...document.querySelectorAll('""" + PAY_ACTIONS + """, .tc-cta, [data-tc-pay]')].filter(shown).map(e => e.className || e.id);
  return {y: scrollY, t, playing: !v.paused, pic: [pic.top, pic.bottom], onScreen: Math.max(0, Math.min(pic.bottom, innerHeight - bottom) - Math.max(pic.top, top)),
          over, pays, anyPay, vh: innerHeight};
}"""

# The scroll positions to look at: every ``step`` CSS px from the top to the bottom of the page, and every ``fine``
# px while any of the player's stage is within a screen of the screen.
SCROLL_STOPS_JS = """({step, fine}) => {
  const stage = document.querySelector('.stage'), max = document.documentElement.scrollHeight - innerHeight;
  const s0 = stage.getBoundingClientRect().top + scrollY, s1 = s0 + stage.offsetHeight, ys = new Set([max]);
  for (let y = 0; y < max; y += step) ys.add(y);
  for (let y = Math.max(0, Math.floor(s0 - innerHeight)); y < Math.min(max, s1); y += fine) ys.add(y);
  return [...ys].sort((a, b) => a - b);
}"""

# At one position, without waiting for the page (a page whose scripts are off runs no timer): scroll and look.
LOOK_AT_JS = "({y, top, bottom, cta}) => { window.scrollTo(0, y); return (" + _LOOK + ")(top, bottom, cta); }"

# Scroll through the page and look at every stop, once the browser has laid it out and the player has answered
# (two frames and a task).
SWEEP_JS = """async ({step, fine, top, bottom, cta}) => {
  const look = """ + _LOOK + """, out = [];
  for (const y of (""" + SCROLL_STOPS_JS + """)({step, fine})) {
    window.scrollTo(0, y);
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))));
    out.push(look(top, bottom, cta));
  }
  return out;
}"""
