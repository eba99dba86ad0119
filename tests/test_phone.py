"""The customer's page as a person on a phone sees it (issue 12), in Chromium with Playwright's device emulation.

On the four phones (320 to 393 CSS px wide), for both sample templates (the bill and the payment reminder),
the baked page and the live-mode page of the same customer:
the portrait picture is at least 85 % of the screen's width, so the template's body text (0.045 of the
frame's width) is at least 12 CSS px, and a screenshot of the amount scene shows its label that tall;
while the video plays no focusable element lies on the picture except the pay scene's call-to-action in its
window; a pay action is on screen whenever the picture is, in the lower half of the screen, clear of the
home indicator, and gone once the bill is paid. Landscape screens get the landscape rendition, whole.
Scrolling through the whole page step by step: ``test_phone_scroll.py``.

Each (sample, phone, mode) page is opened once (the ``phone`` fixture) for the width, the playing and the paused
label checks. The pages come from the session's shared runs (conftest: ``local_run``, ``api_run``, ``reminder_run``), a
live-mode run of the bill (``live: true``) and one of the reminder (``bake: false``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from helpers.browser import open_page
from helpers.runs import publish
from helpers.samples import REMINDER_DIR, SAMPLE_CSV, TEMPLATE_DIR, copy_template, edit_file, pick_rows
from helpers.web import public_server, public_store, serve, site_app
from store.store import Payment

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PHONES = ["iPhone SE", "Galaxy S9+", "iPhone 13", "Pixel 5"]  # Playwright's devices: 320x568, 320x658, 390x664, 393x727
MODES = ["baked", "live"]
SAMPLES = ["bill-explainer", "payment-reminder"]
CUSTOMER = "CUST-00001"  # Italian, 128.48 €: the amount scene's label is "Importo da pagare"
REMINDER = "R-0001"  # English, 69.30 €, 12 days late
PAY_HOST = "pay.lumen-energy.example"
WIDE = 0.85  # the portrait picture's share of the screen's width
BODY_TEXT = 0.045  # the template's body text, as a fraction of the frame's width
READABLE_PX = 12  # CSS px


@pytest.fixture(scope="module")
def pages(local_run, reminder_run, settings, ray_session, tmp_path_factory):
    """Each sample's baked page (the session's shared runs) and live-mode page, served: {(sample, mode): URL}."""
    from tailorcast.spec.load import load_template

    def live_run(src, csv, customer, switch):
        tmp = tmp_path_factory.mktemp(f"phone-live-{src.name}")
        folder = copy_template(src, tmp)
        edit_file(folder, "  default_rendition: portrait\n", f"  default_rendition: portrait\n  {switch}\n")
        run = publish(load_template(folder), pick_rows(csv, [customer], tmp / "in.csv"), settings, tmp / "pub")
        assert run.summary.ok == 1, run.summary
        return run

    runs = {("bill-explainer", "baked"): (local_run, CUSTOMER), ("payment-reminder", "baked"): (reminder_run, REMINDER),
            ("bill-explainer", "live"): (live_run(TEMPLATE_DIR, SAMPLE_CSV, CUSTOMER, "live: true"), CUSTOMER),
            ("payment-reminder", "live"): (live_run(REMINDER_DIR, REMINDER_DIR / "sample-customers.csv", REMINDER, "bake: false"), REMINDER)}
    with contextlib.ExitStack() as stack:
        yield {key: f"{stack.enter_context(serve(site_app(run.out)))}/{run.by_id()[customer]['page']}" for key, (run, customer) in runs.items()}


def _answer_pay(route):
    """The pay page is another host: answer it here, so nothing leaves 127.0.0.1."""
    route.fulfill(status=200, content_type="text/html", body="<title>pay</title>")


# the picture has its size, the player has placed its frame, and a live page plays the shared base video
READY = """() => { const v = document.querySelector('video'), s = document.querySelector('.stage');
  const live = JSON.parse(document.getElementById('tc-timeline').textContent).live;
  return v.readyState >= 2 && s.classList.contains('tc-ready') && (!live || (v.currentSrc.includes('/shared/video/') && !!document.querySelector('.tc-o'))); }"""


def _open(chromium, url: str | None, device: str | None = None, **options):
    return open_page(chromium, url, device, wait=None, routes={f"https://{PAY_HOST}/**": _answer_pay}, **options)


def _ready(page, log) -> None:
    page.wait_for_function(READY, timeout=15000)
    assert log.errors == [], log.errors


# The picture inside the <video> box (object-fit: contain), from the box and the video's intrinsic size.
PICTURE = """() => { const v = document.querySelector('video'), b = v.getBoundingClientRect();
  const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight), w = v.videoWidth * s, h = v.videoHeight * s;
  return {x: b.x + (b.width - w) / 2, y: b.y + (b.height - h) / 2, width: w, height: h,
          video: [v.videoWidth, v.videoHeight], vw: innerWidth, vh: innerHeight}; }"""

# Seek, play for a moment, then what lies on the picture: every focusable element except the video itself.
PLAY_AT = """async (t) => {
  const v = document.querySelector('video'), wait = (p, ms) => Promise.race([p, new Promise(r => setTimeout(r, ms))]);
  v.muted = true;
  await wait(new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; }), 5000);
  try { await v.play(); } catch (e) {}
  await new Promise(r => setTimeout(r, 400));
  const b = v.getBoundingClientRect(), s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
  const pic = {x: b.x + (b.width - v.videoWidth * s) / 2, y: b.y + (b.height - v.videoHeight * s) / 2, w: v.videoWidth * s, h: v.videoHeight * s};
  const over = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
    .filter(e => e !== v && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .filter(e => { const r = e.getBoundingClientRect();
      return Math.min(r.right, pic.x + pic.w) - Math.max(r.x, pic.x) > 0.5 && Math.min(r.bottom, pic.y + pic.h) - Math.max(r.y, pic.y) > 0.5; })
    .map(e => e.className || e.tagName);
  const pay = document.querySelector('.tc-bar .pay').getBoundingClientRect();
  return {t: v.currentTime, playing: !v.paused, over, pic: [pic.y, pic.y + pic.h], pay: [pay.y, pay.bottom], vh: innerHeight}; }"""

# Pause, seek and wait until the frame is on screen (and a live page has drawn its stills for it).
PAUSE_AT = """async (t) => {
  const v = document.querySelector('video'), wait = (p, ms) => Promise.race([p, new Promise(r => setTimeout(r, ms))]);
  v.pause();
  await wait(new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; }), 5000);
  await wait(new Promise(r => v.requestVideoFrameCallback ? v.requestVideoFrameCallback(() => r()) : r()), 700);
  await wait(new Promise(r => { const drawn = () => [...document.querySelectorAll('canvas.tc-o')].every(c => c.hasAttribute('data-drawn')) ? r() : setTimeout(drawn, 20); drawn(); }), 3000);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return v.currentTime; }"""

SHOW_PLAYER = "document.querySelector('.stage').scrollIntoView({block: 'nearest'})"


PHONE_CASES = [(sample, device, mode) for sample in SAMPLES for device in PHONES for mode in MODES]


@pytest.fixture(scope="module", params=PHONE_CASES, ids=lambda case: "-".join(case))
def phone(request, chromium, pages):
    """(sample, device, mode, page, log): the page opened once on that phone for the three checks that take it
    (pytest runs them one after the other: the first sees the page as opened; the others start from the top)."""
    sample, device, mode = request.param
    with _open(chromium, pages[(sample, mode)], device) as (page, log):
        _ready(page, log)
        yield sample, device, mode, page, log


def _from_the_top(page) -> None:
    """The video paused and the page scrolled back to its top, as after opening it."""
    page.evaluate("() => { document.querySelector('video').pause(); window.scrollTo(0, 0); }")
    page.wait_for_timeout(100)


def _timeline(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('tc-timeline').textContent)")


def test_portrait_picture_uses_the_content_width_and_the_first_screen_says_who_how_much_and_when(phone):
    sample, device, mode, page, log = phone
    pic = page.evaluate(PICTURE)
    print(f"{sample} on {device} ({mode}): picture {pic['width']:.0f} of {pic['vw']} CSS px ({pic['width'] / pic['vw']:.1%}), "
          f"body text {BODY_TEXT * pic['width']:.1f} px")
    assert pic["video"] == [720, 1280], "a portrait phone gets the portrait rendition"
    assert pic["width"] >= WIDE * pic["vw"], pic
    assert BODY_TEXT * pic["width"] >= READABLE_PX, pic
    frame = page.locator(".tc-frame").bounding_box()  # where the CTA and the live stills are drawn: on the picture
    assert abs(frame["x"] - pic["x"]) < 1 and abs(frame["width"] - pic["width"]) < 1 and abs(frame["height"] - pic["height"]) < 1
    for sel in (".brand img", "h1", ".amount strong", ".date", "#pay"):
        box = page.locator(sel).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= pic["vh"], (sel, box)
    assert page.inner_text(".date") == {"bill-explainer": "Da pagare entro l'11 dicembre 2026",
                                        "payment-reminder": "Was due on October 11, 2026"}[sample]
    assert page.evaluate("document.documentElement.scrollWidth") <= pic["vw"]


def test_while_playing_nothing_focusable_lies_on_the_picture_but_the_pay_scenes_call_to_action(phone):
    sample, device, mode, page, log = phone
    _from_the_top(page)
    data = _timeline(page)
    pay, d = data["pay"], data["duration"]
    page.evaluate(SHOW_PLAYER)
    times = [0.5, 0.2 * d, 0.4 * d, 0.6 * d, pay["start"] + 0.5, d - 0.6]
    for t in times:
        state = page.evaluate(PLAY_AT, t)
        assert state["playing"], (t, state)
        in_window = pay["start"] <= state["t"] < pay["end"] + 0.05
        assert state["over"] == (["tc-cta"] if in_window else []), (sample, device, mode, state)
        top, bottom = state["pay"]
        assert 0 <= top and bottom <= state["vh"], f"the pay action is off screen while the video plays: {state}"
        assert top >= state["pic"][1] - 0.5, f"the pay action lies on the picture: {state}"
    assert [c for c in page.locator(".tc-bar button").all() if c.is_visible()], "the controls are in the bar"
    assert log.errors == []


def _pay_on_screen(page) -> list[str]:
    """The pay actions wholly inside the viewport."""
    return page.evaluate("""() => [...document.querySelectorAll('#pay, .tc-top .pay, .tc-bar .pay')].filter(e => {
        const r = e.getBoundingClientRect();
        return e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && r.top >= 0 && r.bottom <= innerHeight;
      }).map(e => e.id || e.parentNode.className)""")


@pytest.mark.parametrize("device", PHONES)
def test_pay_action_stays_in_reach_while_the_video_is_on_screen_and_goes_once_paid(chromium, api_run, settings, tmp_path, device):
    row = api_run.by_id()[CUSTOMER]
    with public_server(settings, tmp_path / "public.db") as public, serve(site_app(api_run.out, public)) as base, \
            _open(chromium, f"{base}/{row['page']}", device) as (page, log):
        _ready(page, log)
        # scrolled so that the picture's top is at 90 %, 60 %, 30 % and 0 % of the screen's height, then above it
        top = page.evaluate("document.querySelector('video').getBoundingClientRect().top + scrollY")
        vh = page.evaluate("innerHeight")
        for at in (0.9, 0.6, 0.3, 0.0, -0.3, -0.6):
            page.evaluate(f"window.scrollTo(0, {top - at * vh})")
            page.wait_for_timeout(150)
            assert _pay_on_screen(page), f"no pay action on screen with the picture's top at {at:.0%} of the screen"
        page.evaluate(SHOW_PLAYER)
        page.evaluate(PLAY_AT, 2.0)
        page.wait_for_timeout(800)
        bar = page.locator(".tc-bar .pay")
        box = bar.bounding_box()
        assert box["y"] >= vh / 2 and box["y"] + box["height"] <= vh, f"not in the thumb's reach: {box}"
        assert box["height"] >= 24 and page.evaluate("!document.querySelector('video').paused")  # WCAG 2.5.8; 29.1 on an iPhone SE
        assert bar.get_attribute("href") == page.get_attribute("#pay", "href")
        public_store(public).pay(Payment("2026-10-000001", 12848, "EUR", row["token"]), "test", dt.datetime.now(dt.timezone.utc))
        with page.expect_navigation():  # the customer pays, then comes back
            bar.click()
        page.go_back()
        page.wait_for_selector(".tc-paid")
        assert not bar.is_visible() and not page.is_visible("#pay") and _pay_on_screen(page) == []
        assert not page.is_visible(".tc-top") and page.locator(".tc-bar button").count() > 0, "the strip over the picture goes, the bar's controls stay"


def test_pay_bar_keeps_clear_of_the_home_indicator_and_the_notch(chromium, pages):
    for device, insets in (("iPhone 13", {"top": 47, "bottom": 34, "left": 0, "right": 0}),
                           ("iPhone 13 landscape", {"top": 0, "bottom": 21, "left": 47, "right": 47})):
        with _open(chromium, None, device) as (page, log):
            page.context.new_cdp_session(page).send("Emulation.setSafeAreaInsetsOverride", {"insets": insets})
            page.goto(pages[("bill-explainer", "baked")])
            _ready(page, log)
            # the picture's top 10 px below the screen's: the top pay button is off screen, the player's bottom is not
            page.evaluate("window.scrollTo(0, document.querySelector('video').getBoundingClientRect().top + scrollY - 10)")
            page.wait_for_timeout(150)
            box, vw, vh = page.locator(".tc-bar .pay").bounding_box(), page.evaluate("innerWidth"), page.evaluate("innerHeight")
            assert box["y"] + box["height"] <= vh - insets["bottom"] + 0.5, (device, box)
            assert box["x"] >= insets["left"] and box["x"] + box["width"] <= vw - insets["right"], (device, box)
            date = page.locator(".date").bounding_box()
            assert date["x"] >= insets["left"], (device, date)


# The small text whose size a person must read, per sample: (scene, layer index, the layer's text starts with).
# The bill: the amount scene's label (0.045 of the frame's width, one line); the reminder: the overdue scene's
# sentence (0.05, up to four lines: its first line is measured).
LABELS = {"bill-explainer": ("amount", 0, "{{ t('amount_label') }}"), "payment-reminder": ("overdue", 1, "{{ t('overdue_line'")}


def _label_box(sample: str, rendition: str) -> tuple[float, float, float, float]:
    """The label's box: (left, top, right, bottom) as fractions of the frame."""
    from tailorcast.spec.load import load_template

    scene, index, text = LABELS[sample]
    layer = load_template(TEMPLATE_DIR if sample == "bill-explainer" else REMINDER_DIR).scene(scene).layers[index]
    assert layer.params["text"].startswith(text)
    return layer.box_for(rendition).fractions()


def _first_run(rows: np.ndarray) -> np.ndarray:
    """The first run of consecutive row numbers: the first line of text."""
    gaps = np.flatnonzero(np.diff(rows) > 1)
    return rows[: gaps[0] + 1] if gaps.size else rows


def test_amount_label_on_a_paused_frame_is_at_least_12_css_px_tall(phone):
    sample, device, mode, page, log = phone
    _from_the_top(page)
    data = _timeline(page)
    amount = next(s for s in data["scenes"] if s["id"] == LABELS[sample][0])
    page.evaluate(SHOW_PLAYER)
    page.evaluate(PAUSE_AT, amount["start"] + 3.0)
    pic = page.evaluate(PICTURE)
    shot = Image.open(io.BytesIO(page.screenshot(clip={k: pic[k] for k in ("x", "y", "width", "height")}))).convert("L")
    scale = shot.width / pic["width"]  # device pixels per CSS px
    left, top, right, bottom = _label_box(sample, "portrait")
    crop = np.asarray(shot.crop((round(left * shot.width), round((top - 0.01) * shot.height),
                                 round(right * shot.width), round(bottom * shot.height))))
    rows = _first_run(np.flatnonzero((crop > 133).any(axis=1)))  # light text (#FFFFFFCC, #FFFFFF) on the brand blue (#0B3D78)
    assert rows.size, "no label text in the label's box"
    height = (rows[-1] - rows[0] + 1) / scale
    print(f"{sample} on {device} ({mode}): the label's text is {height:.1f} CSS px tall")
    assert height >= READABLE_PX, f"{sample} on {device} ({mode}): the label's text is {height:.1f} CSS px tall"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("screen", [{"viewport": {"width": 1280, "height": 800}}, "iPhone 13 landscape", "Pixel 5 landscape"], ids=["desktop", "iphone13-landscape", "pixel5-landscape"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_landscape_screens_get_the_whole_landscape_picture_at_a_comfortable_size(chromium, pages, sample, screen, mode):
    device, options = (screen, {}) if isinstance(screen, str) else (None, screen)
    with _open(chromium, pages[(sample, mode)], device, **options) as (page, log):
        _ready(page, log)
        page.evaluate(SHOW_PLAYER)
        page.wait_for_timeout(150)
        pic = page.evaluate(PICTURE)
        bar, strip = page.locator(".tc-bar").bounding_box(), page.locator(".tc-top").bounding_box()
        print(f"{sample} on {screen} ({mode}): picture {pic['width']:.0f}x{pic['height']:.0f} in {pic['vw']}x{pic['vh']}")
        assert pic["video"] == [1280, 720]
        assert BODY_TEXT * pic["width"] >= 16, pic  # the body text at 16 CSS px or more
        # the whole picture and the bar under it on the screen (to the pixel: the page sits at fractional offsets)
        assert pic["y"] >= -1 and bar["y"] + bar["height"] <= pic["vh"] + 1 and bar["y"] >= pic["y"] + pic["height"] - 1, (pic, bar)
        assert strip["y"] >= -1 and strip["y"] + strip["height"] <= pic["y"] + 1, (strip, pic)  # and the pay strip over it
        if device is None:
            assert pic["width"] >= 640, pic
