"""The page's player in Chromium with phone emulation: chapters, the pay call-to-action, captions,
replay, tap for sound, no JavaScript, and (with the public server on the page's origin) events,
the paid status and the instalment form; without the server the page works as published.

The pages come from the session's shared runs (conftest: ``local_run``, ``api_run``, ``reminder_run``)."""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest

from helpers.browser import DEVICES, open_page
from helpers.web import public_server, public_store, serve, site_app
from store.store import Payment

pytestmark = [pytest.mark.e2e, pytest.mark.browser]  # the shared runs, in Chromium

PAY_HOST = "pay.lumen-energy.example"
REMINDER_ID = "R-0005"  # Arabic (right to left), 189.40: the instalment offer is on


@pytest.fixture(scope="module")
def site(local_run):
    """The shared run published without an API, served as the CDN would: (base URL, rows by id)."""
    with serve(site_app(local_run.out)) as base:
        yield base, local_run.by_id()


@pytest.fixture(scope="module")
def api_site(api_run, settings, tmp_path_factory):
    """The rows published for an origin with the public server, served with it on the same origin:
    (base URL, rows by id, public app, published folder)."""
    with public_server(settings, tmp_path_factory.mktemp("api-site") / "public.db") as public, \
            serve(site_app(api_run.out, public)) as base:
        yield base, api_run.by_id(), public, api_run.out


def _answer_pay(route):
    """The pay page is another host: answer it here, so nothing leaves 127.0.0.1."""
    route.fulfill(status=200, content_type="text/html", body="<title>pay</title>")


def _open(chromium, url: str, device: str = "iPhone 13", **options):
    return open_page(chromium, url, device, routes={f"https://{PAY_HOST}/**": _answer_pay}, **options)


def _clean(log, allow_api_errors: bool = False) -> None:
    noisy = log.noisy_console()
    if allow_api_errors:  # a stopped server: the browser itself logs the failed request
        noisy = [c for c in noisy if "Failed to load resource" not in c[1]]
    assert log.errors == [] and noisy == [], (log.errors, noisy)
    hosts = {urlparse(u).hostname for u in log.requests if not u.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1", PAY_HOST}, hosts


def _timeline(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('tc-timeline').textContent)")


SEEK = """async (t) => { const v = document.querySelector('video'); v.pause();
  await Promise.race([new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; }),
                      new Promise(r => setTimeout(r, 5000))]);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return v.currentTime; }"""


@pytest.mark.parametrize("device", DEVICES)
def test_video_autoplays_muted_and_tap_for_sound_unmutes(chromium, site, device):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00001']['page']}", device) as (page, log):
        page.wait_for_function("() => document.querySelector('video').currentTime > 0.3", timeout=10000)  # a function: the CSP forbids eval
        assert page.evaluate("document.querySelector('video').muted")
        sound = page.locator(".tc-sound")
        assert sound.is_visible()
        assert sound.evaluate("e => getComputedStyle(e).backgroundImage").startswith('url("data:image/svg+xml'), "its icon"
        sound.click()
        state = page.evaluate("({muted: document.querySelector('video').muted, paused: document.querySelector('video').paused})")
        assert state == {"muted": False, "paused": False}
        assert not sound.is_visible()
        assert page.evaluate("document.querySelector('video').currentSrc").endswith("/video-portrait.mp4")
        _clean(log)
        assert not [u for u in log.requests if "/api/" in u], "no API configured: the page calls no server"


@pytest.mark.parametrize("device", DEVICES)
def test_chapters_seek_and_mark_the_current_one(chromium, site, device):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00001']['page']}", device) as (page, log):
        data = _timeline(page)
        assert [s["id"] for s in data["scenes"]] == ["intro", "greeting", "amount", "tip", "pay"]
        links = page.locator(".chapters a")
        assert links.count() == 5
        target = data["scenes"][2]
        links.nth(2).click()
        page.wait_for_function(f"Math.abs(document.querySelector('video').currentTime - {target['start']}) < 0.5")
        page.evaluate("document.querySelector('video').pause()")
        assert links.nth(2).get_attribute("aria-current") == "true"
        assert [links.nth(i).get_attribute("aria-current") for i in (0, 1, 3, 4)] == [None] * 4
        assert page.url == f"{base}/{rows['CUST-00001']['page']}"  # the click seeks; it does not open the mp4
        _clean(log)


@pytest.mark.parametrize("device", DEVICES)
def test_pay_cta_is_drawn_over_the_pay_scene_and_opens_the_pay_link(chromium, site, device):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00001']['page']}", device) as (page, log):
        data = _timeline(page)
        pay = data["pay"]
        assert pay["scene"] == "pay" and data["scenes"][-1]["start"] < pay["start"] < pay["end"]
        cta = page.locator(".tc-cta")
        page.evaluate(SEEK, pay["start"] - 1.0)
        assert not cta.is_visible()
        page.evaluate(SEEK, pay["start"] + 0.5)
        assert cta.is_visible()
        box, frame = cta.bounding_box(), page.locator(".tc-frame").bounding_box()
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        assert frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
        # over the button the video draws: the template's pay-scene button box, in the portrait rendition
        left, top, _, _ = next(r for r in data["renditions"] if r["name"] == "portrait")["cta"]
        assert abs(box["x"] - (frame["x"] + left * frame["width"])) < 2
        assert abs(box["y"] - (frame["y"] + top * frame["height"])) < 2
        assert cta.inner_text() == pay["label"] == "Paga ora"
        href = page.get_attribute("#pay", "href")
        assert cta.get_attribute("href") == href and href.startswith(f"https://{PAY_HOST}/checkout?ref=2026-10-000001")
        with page.expect_navigation():
            cta.click()
        assert page.url == href  # answered by page.route: nothing left 127.0.0.1
        _clean(log)


def test_captions_toggle(chromium, site):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00005']['page']}", "Pixel 5") as (page, log):
        cc = page.locator(".tc-cc")
        assert page.get_by_role("button", name="CC Captions", exact=True).count() == 1  # its visible text is in its name
        assert cc.get_attribute("aria-pressed") == "true"
        assert page.evaluate("document.querySelector('video').textTracks[0].mode") == "showing"
        cc.click()
        assert cc.get_attribute("aria-pressed") == "false"
        assert page.evaluate("document.querySelector('video').textTracks[0].mode") == "hidden"
        cc.click()
        assert page.evaluate("document.querySelector('video').textTracks[0].mode") == "showing"
        assert cc.get_attribute("aria-pressed") == "true"
        _clean(log)


def test_replay_appears_at_the_end_and_starts_again(chromium, site):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00005']['page']}", "iPhone 13") as (page, log):
        replay = page.locator(".tc-replay")
        assert not replay.is_visible()
        page.evaluate("""async () => { const v = document.querySelector('video'); v.muted = true;
            v.currentTime = v.duration - 0.4; await v.play().catch(() => {});
            await Promise.race([new Promise(r => v.ended ? r() : v.addEventListener('ended', r, {once: true})), new Promise(r => setTimeout(r, 10000))]); }""")
        assert replay.is_visible() and replay.inner_text() == "Replay"
        assert replay.evaluate("e => getComputedStyle(e).backgroundImage").startswith('url("data:image/svg+xml'), "its icon"
        assert page.locator(".tc-cta").is_visible(), "the pay call-to-action stays at the end"
        replay.click()
        page.wait_for_function("() => !document.querySelector('video').paused && document.querySelector('video').currentTime < 2")
        assert not replay.is_visible()
        _clean(log)


@pytest.mark.parametrize("device", DEVICES)
def test_page_works_without_javascript(chromium, site, device):
    base, rows = site
    with _open(chromium, f"{base}/{rows['CUST-00001']['page']}", device, java_script_enabled=False) as (page, log):
        video = page.locator("video#video")
        assert video.is_visible() and video.get_attribute("controls") is not None
        assert page.locator("video source").first.get_attribute("src") == "video-portrait.mp4"
        assert page.locator("video track").get_attribute("kind") == "captions"
        assert page.get_attribute("#pay", "href").startswith(f"https://{PAY_HOST}/checkout?ref=2026-10-000001")
        assert page.is_visible("#pay") and page.is_visible(".tc-top .pay") and page.is_visible(".tc-bar .pay")  # the player's pay strips are HTML
        assert page.locator(".chapters a").count() == 5 and page.locator(".tc-frame, .tc-cc").count() == 0
        assert page.locator(".tips li").count() == 2 and page.locator(".download a").get_attribute("href") == "video-portrait.mp4"
        _clean(log)


def test_a_360x640_screen_shows_brand_amount_date_and_pay_first_and_then_the_whole_player(chromium, site):
    base, rows = site
    with open_page(chromium, f"{base}/{rows['CUST-00001']['page']}", wait=None,
                   viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True) as (page, _):
        page.wait_for_function("() => document.querySelector('video').readyState >= 1 && document.querySelector('.tc-ready')")
        for sel in (".brand img", ".amount strong", ".date", "#pay"):
            box = page.locator(sel).first.bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 640, (sel, box)
        assert page.locator("video").bounding_box()["y"] < 640, "the video begins on the first screen"
        # scrolled to, the whole picture (poster, then video) and the bar under it fit the screen, not cropped
        page.evaluate("document.querySelector('.stage').scrollIntoView({block: 'nearest'})")
        frame, bar = page.locator(".tc-frame").bounding_box(), page.locator(".tc-bar").bounding_box()
        # (to the pixel: the page sits at fractional offsets)
        assert frame["y"] >= -1 and frame["width"] >= 0.85 * 360 and frame["y"] + frame["height"] <= bar["y"] + 1
        assert bar["y"] + bar["height"] <= 641
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_saving_tips_follow_last_month_against_the_average(site):
    base, rows = site
    from urllib.request import urlopen

    # CUST-00001 (it): 474 kWh last month against an average of 414: 14 % above
    html = urlopen(f"{base}/{rows['CUST-00001']['page']}").read().decode()
    assert "Il mese scorso hai consumato il 14% in più della tua media mensile." in html
    assert "Usa lavatrice e lavastoviglie dopo le 19" in html
    # CUST-00005 (en): 154 kWh against 136: 13 % above; the chat link is in the contact list
    html = urlopen(f"{base}/{rows['CUST-00005']['page']}").read().decode()
    assert "Last month you used 13% more energy than your monthly average." in html
    assert 'href="https://chat.lumen-energy.example/"' in html


# ---------------------------------------------------------------- with the public server

def _events(public, token: str) -> list[tuple[str, str | None]]:
    return [(e.kind, e.detail) for e in public_store(public).events(token)]


def _wait_for_event(public, token: str, event: tuple) -> list:
    deadline = time.time() + 5
    while time.time() < deadline and event not in _events(public, token):
        time.sleep(0.1)
    return _events(public, token)


def test_player_reports_view_chapter_progress_cta_click_and_pay_started(chromium, api_site):
    base, rows, public, _ = api_site
    row = rows["CUST-00005"]
    with _open(chromium, f"{base}/{row['page']}", "Pixel 5") as (page, log):
        page.locator(".chapters a").nth(1).click()
        data = _timeline(page)
        page.evaluate("""async (d) => { const v = document.querySelector('video'); v.muted = true;
            v.currentTime = d - 0.5; await v.play().catch(() => {});
            await Promise.race([new Promise(r => v.ended ? r() : v.addEventListener('ended', r, {once: true})), new Promise(r => setTimeout(r, 10000))]); }""", data["duration"])
        page.evaluate(SEEK, data["pay"]["start"] + 0.3)
        with page.expect_navigation():
            page.locator(".tc-cta").click()
        got = _wait_for_event(public, row["token"], ("cta_click", None))
        assert ("view", None) in got and ("chapter", "greeting") in got and ("cta_click", None) in got
        assert {"play", "play_25", "play_50", "play_75", "play_100"} <= {kind for kind, _ in got}
        reached = [scene for kind, scene in got if kind == "scene"]  # each scene the video played into, once
        assert reached and len(reached) == len(set(reached)) and set(reached) <= {s["id"] for s in data["scenes"]}
        page.go_back()
        with page.expect_navigation():
            page.click("#pay")
        assert ("pay_started", None) in _wait_for_event(public, row["token"], ("pay_started", None))
        _clean(log)


@pytest.mark.parametrize("device", DEVICES)
def test_paid_status_swaps_the_pay_button_for_a_thank_you(chromium, api_site, device):
    base, rows, public, _ = api_site
    row = rows["CUST-00051"]
    store = public_store(public)
    if not store.status(row["token"]).paid:
        import datetime as dt

        store.pay(Payment("2026-10-000051", 8348, "EUR", row["token"]), "test", dt.datetime.now(dt.timezone.utc))
    with _open(chromium, f"{base}/{row['page']}", device) as (page, log):
        page.wait_for_selector(".tc-paid")
        assert page.inner_text(".tc-paid") == "Thank you, this bill is paid."
        assert not page.is_visible("#pay") and not page.is_visible(".bank") and not page.is_visible(".tc-bar .pay")
        assert not page.is_visible(".tc-top"), "the pay strip over the picture goes too"
        page.evaluate(SEEK, _timeline(page)["pay"]["start"] + 0.5)
        assert not page.locator(".tc-cta").is_visible(), "no pay button over the video once paid"
        _clean(log)


def test_unpaid_bill_keeps_its_pay_button(chromium, api_site):
    base, rows, _, _ = api_site
    with _open(chromium, f"{base}/{rows['CUST-00001']['page']}") as (page, log):
        page.wait_for_load_state("networkidle")
        assert any(u.endswith(f"/api/status/{rows['CUST-00001']['token']}") for u in log.requests)
        assert page.is_visible("#pay") and page.locator(".tc-paid").count() == 0
        _clean(log)


def test_page_keeps_working_with_the_public_server_stopped(chromium, api_site):
    """The same pages served without the API (a stopped server): status and events fail quietly."""
    _, rows, _, out = api_site
    with serve(site_app(out)) as base, _open(chromium, f"{base}/{rows['CUST-00001']['page']}") as (page, log):
        page.wait_for_function("() => document.querySelector('video').currentTime > 0.3", timeout=10000)  # a function: the CSP forbids eval
        assert page.is_visible("#pay") and page.locator(".tc-paid").count() == 0
        page.locator(".chapters a").nth(3).click()  # an event to a missing server
        assert any("/api/status/" in u for u in log.requests)
        _clean(log, allow_api_errors=True)


@pytest.fixture(scope="module")
def reminder_api_site(reminder_run, settings, tmp_path_factory):
    """The Arabic reminder with the instalment offer (shared reminder run, published for an origin with the
    public server), served with it: (base URL, its manifest row, public app)."""
    with public_server(settings, tmp_path_factory.mktemp("reminder-api") / "public.db") as public, \
            serve(site_app(reminder_run.out, public)) as base:
        yield base, reminder_run.by_id()[REMINDER_ID], public


def test_instalment_form_posts_to_the_public_server_and_thanks_the_customer(chromium, reminder_api_site):
    base, row, public = reminder_api_site
    with _open(chromium, f"{base}/{row['page']}", "Pixel 5") as (page, log):
        assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
        form = page.locator(".plan form")
        assert form.get_attribute("action") == f"../../api/instalments/{row['token']}"
        assert not page.is_visible("#instalments-thanks")
        page.select_option("#plan-n", "6")
        page.check("input[name=contact][value=phone]")
        with page.expect_navigation():
            page.click(".plan button[type=submit]")
        assert page.url.endswith(f"/c/{row['token']}/#instalments-thanks")
        assert page.is_visible("#instalments-thanks")
        assert public_store(public).instalment_requests(row["token"]) == [(6, "phone")]
        _clean(log)


def test_right_to_left_page_mirrors_the_player_bar(chromium, reminder_api_site):
    base, row, _ = reminder_api_site
    with _open(chromium, f"{base}/{row['page']}", "iPhone 13") as (page, log):
        page.wait_for_selector(".tc-sound", state="visible", timeout=10000)
        sound, pay = page.locator(".tc-sound").bounding_box(), page.locator(".tc-bar .pay").bounding_box()
        assert sound["x"] > pay["x"] + pay["width"]  # right to left: the controls start on the right, the pay button ends on the left
        assert page.get_by_role("button", name="المس لتشغيل الصوت").is_visible()
        _clean(log)


def test_published_player_data_is_inert_json(site):
    from urllib.request import urlopen

    base, rows = site
    html = urlopen(f"{base}/{rows['CUST-00051']['page']}").read().decode()  # the hostile name
    start = html.index('<script type="application/json" id="tc-timeline">') + len('<script type="application/json" id="tc-timeline">')
    text = html[start:html.index("</script>", start)]
    assert "<" not in text and json.loads(text)["fps"] == 30
