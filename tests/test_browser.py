"""What the customer touches, in Debian's Chromium with phone emulation."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest

from helpers.browser import DEVICES, open_page
from helpers.web import serve, site_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def served(local_run):
    """The shared run, served as the CDN would: (base URL, manifest rows)."""
    with serve(site_app(local_run.out)) as base:
        yield base, local_run.rows()


PLAY = """async () => {
  const v = document.querySelector('video');
  v.muted = true;
  await v.play();
  await new Promise(r => setTimeout(r, 1200));
  return {t: v.currentTime, paused: v.paused, w: v.videoWidth, h: v.videoHeight, err: v.error && v.error.code, muted: v.muted};
}"""


@pytest.mark.parametrize("device", DEVICES)
def test_video_plays_muted_and_pay_button_points_at_pay_link(chromium, served, device):
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00001")
    with open_page(chromium, f"{base}/{row['page']}", device) as (page, log):
        state = page.evaluate(PLAY)
        assert state["err"] is None
        assert state["muted"] and not state["paused"]
        assert state["t"] > 0.3
        assert (state["w"], state["h"]) == (720, 1280)  # a portrait phone gets the vertical rendition
        href = page.get_attribute("#pay", "href")
        assert href.startswith("https://pay.lumen-energy.example/checkout?ref=2026-10-000001")
        assert page.is_visible("#pay")
        assert log.noisy_console() == []
        # a media element aborts its first range request once it has the moov atom: that is normal
        assert [f for f in log.failed if not (f[0].endswith(".mp4") and "ERR_ABORTED" in (f[1] or ""))] == []
        hosts = {urlparse(u).hostname for u in log.requests if not u.startswith("data:")}
        assert hosts == {"127.0.0.1"}


def test_page_fits_a_360px_screen_with_amount_and_button_above_the_fold(chromium, served):
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00001")
    with open_page(chromium, f"{base}/{row['page']}", wait=None,
                   viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True) as (page, _):
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        box = page.locator("#pay").bounding_box()
        assert box["y"] + box["height"] <= 640
        assert "128,48" in page.inner_text(".amount")


def test_hostile_name_shows_as_text_and_runs_nothing(chromium, served):
    base, rows = served
    row = next(r for r in rows if r["customer_id"] == "CUST-00051")
    with open_page(chromium, f"{base}/{row['page']}", "iPhone 13") as (page, log):
        assert "<script>alert(1)</script>" in page.inner_text("h1")
        assert log.dialogs == []
        # the only code is the shared, content-addressed player; the only inline script is inert JSON data
        scripts = page.evaluate("[...document.scripts].map(s => [s.type, s.src ? new URL(s.src).pathname : s.textContent])")
        assert [s[0] for s in scripts] == ["", "application/json"], scripts
        assert re.fullmatch(r"/shared/js/[0-9a-f]{32}\.js", scripts[0][1]), scripts[0]
        assert "<script>" not in scripts[1][1] and json.loads(scripts[1][1])["token"] == row["token"]


def test_private_run_files_are_not_served(served):
    import urllib.error
    import urllib.request

    base, rows = served
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{base}/runs/")
    assert err.value.code == 404
