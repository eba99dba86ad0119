"""What the customer touches, in Debian's Chromium with phone emulation."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from public_server.static import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(local_run):
    out, summary = local_run
    server = make_server("127.0.0.1", 0, create_app(out), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rows = list(csv.DictReader(io.StringIO((out / summary.manifest).read_text())))
    yield f"http://127.0.0.1:{server.server_port}", rows
    server.shutdown()


def _open(chromium, url: str, device: str = "iPhone 13"):
    p, browser = chromium
    context = browser.new_context(**p.devices[device])
    page = context.new_page()
    events = {"console": [], "requests": [], "dialogs": [], "failed": []}
    page.on("console", lambda m: events["console"].append((m.type, m.text)))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("requestfailed", lambda r: events["failed"].append((r.url, r.failure)))
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return context, page, events


PLAY = """async () => {
  const v = document.querySelector('video');
  v.muted = true;
  await v.play();
  await new Promise(r => setTimeout(r, 1200));
  return {t: v.currentTime, paused: v.paused, w: v.videoWidth, h: v.videoHeight, err: v.error && v.error.code, muted: v.muted};
}"""


@pytest.mark.parametrize("device", ["iPhone 13", "Pixel 5"])
def test_video_plays_muted_and_pay_button_points_at_pay_link(chromium, served, device):
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00001")
    context, page, events = _open(chromium, f"{base}/{row['page']}", device)
    try:
        state = page.evaluate(PLAY)
        assert state["err"] is None
        assert state["muted"] and not state["paused"]
        assert state["t"] > 0.3
        assert (state["w"], state["h"]) == (720, 1280)  # a portrait phone gets the vertical rendition
        href = page.get_attribute("#pay", "href")
        assert href.startswith("https://pay.lumen-energy.example/checkout?ref=2026-10-000001")
        assert page.is_visible("#pay")
        assert [c for c in events["console"] if c[0] in ("error", "warning")] == []
        # a media element aborts its first range request once it has the moov atom: that is normal
        assert [f for f in events["failed"] if not (f[0].endswith(".mp4") and "ERR_ABORTED" in (f[1] or ""))] == []
        hosts = {urlparse(u).hostname for u in events["requests"] if not u.startswith("data:")}
        assert hosts == {"127.0.0.1"}
    finally:
        context.close()


def test_page_fits_a_360px_screen_with_amount_and_button_above_the_fold(chromium, served):
    p, browser = chromium
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00001")
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base}/{row['page']}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        box = page.locator("#pay").bounding_box()
        assert box["y"] + box["height"] <= 640
        assert "128,48" in page.inner_text(".amount")
    finally:
        context.close()


def test_hostile_name_shows_as_text_and_runs_nothing(chromium, served):
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00051")
    context, page, events = _open(chromium, f"{base}/{row['page']}")
    try:
        assert "<script>alert(1)</script>" in page.inner_text("h1")
        assert events["dialogs"] == []
        # the only code is the shared, content-addressed player; the only inline script is inert JSON data
        scripts = page.evaluate("[...document.scripts].map(s => [s.type, s.src ? new URL(s.src).pathname : s.textContent])")
        assert [s[0] for s in scripts] == ["", "application/json"], scripts
        assert re.fullmatch(r"/shared/js/[0-9a-f]{32}\.js", scripts[0][1]), scripts[0]
        assert "<script>" not in scripts[1][1] and json.loads(scripts[1][1])["token"] == row["token"]
    finally:
        context.close()


def test_private_run_files_are_not_served(served):
    import urllib.error
    import urllib.request

    base, rows = served
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{base}/runs/")
    assert err.value.code == 404
