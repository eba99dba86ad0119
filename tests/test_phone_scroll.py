"""Scrolling through the customer's page on a phone while the video plays (issue 12): at every position, nothing
focusable lies on the picture (but the pay scene's call-to-action in its window), and while any of the picture
is on screen a pay action is wholly on screen, off the picture and the topmost thing where a thumb would tap it;
once the bill is paid no pay action is left. For both sample templates, baked and live (``bake: false``: the
shared base video with the customer's live stills), on the four phones upright and two of them on their side
(``CASES``: the bill baked on all six, the other combinations on the screens that differ); with the safe areas of a
notched phone; and without JavaScript.

How the page makes that possible is in ``microsite/static/site.css`` (the player's comment): a pay strip over the
picture and the bar under it, in the flow, the picture at most the screen's height less both.
"""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.browser import LOOK_AT_JS, PICTURE_JS, SCROLL_STOPS_JS, SWEEP_JS, open_page
from helpers.runs import publish
from helpers.samples import REMINDER_DIR, TEMPLATE_DIR, copy_template, edit_file, pick_rows
from helpers.web import public_server, public_store, serve, site_app
from store.store import Payment

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PAY_HOST = "pay.lumen-energy.example"
# (template, customer): the Italian bill; the Arabic reminder (right to left, the instalment offer on)
CUSTOMERS = {"bill-explainer": ("CUST-00001", "2026-10-000001", 12848), "payment-reminder": ("R-0005", "2026-09-000005", 18940)}
SCREENS = ["iPhone SE", "Galaxy S9+", "iPhone 13", "Pixel 5", "iPhone 13 landscape", "Pixel 5 landscape"]
STEP, FINE = 32, 12  # CSS px between two looks: over the whole page, and while the player is within a screen of the screen
COARSE = 64, 24  # the same, for the sweeps that look only for what must not be there (during the pay scene, once paid)
# Which sweeps run (each costs about 10 s): the bill baked on every screen; live mode lays out the same strips around
# the same picture (its stills are images in it, never focusable), so the narrowest phone and one on its side; the
# reminder (another page, right to left) on a short phone (the strips below 44 px), a tall one and one on its side.
CASES = {
    "bill-explainer": [("baked", s) for s in SCREENS] + [("live", "iPhone SE"), ("live", "Pixel 5 landscape")],
    "payment-reminder": [("baked", "iPhone SE"), ("baked", "Pixel 5"), ("baked", "iPhone 13 landscape"), ("live", "iPhone 13")],
}
MIN_TARGET = 24  # CSS px: the pay action's height at the least (WCAG 2.5.8); the strips make it 29 to 38
LAG = 0.25  # s: the call-to-action may show this much past its window's end (the player's timer, on a busy machine)


def _template_dir(name: str):
    return TEMPLATE_DIR if name == "bill-explainer" else REMINDER_DIR


@pytest.fixture(scope="module")
def published(api_run, reminder_run, settings, ray_session, tmp_path_factory):
    """{(template, mode): (published folder, the customer's manifest row)}: baked from the session's shared runs
    (published for an origin with the public server), live from a ``bake: false`` run of the same customer."""
    from tailorcast.spec.load import load_template

    out = {("bill-explainer", "baked"): api_run, ("payment-reminder", "baked"): reminder_run}
    for name in CUSTOMERS:
        tmp = tmp_path_factory.mktemp(f"scroll-{name}")
        folder = copy_template(_template_dir(name), tmp)
        edit_file(folder, "  default_rendition: portrait\n", "  default_rendition: portrait\n  bake: false\n")
        rows = pick_rows(_template_dir(name) / "sample-customers.csv", [CUSTOMERS[name][0]], tmp / "in.csv")
        run = publish(load_template(folder), rows, settings, tmp / "pub", api=True)
        assert run.summary.ok == 1, run.summary
        out[(name, "live")] = run
    return {key: (run.out, run.by_id()[CUSTOMERS[key[0]][0]]) for key, run in out.items()}


def _answer_pay(route):
    """The pay page is another host: answer it here, so nothing leaves 127.0.0.1."""
    route.fulfill(status=200, content_type="text/html", body="<title>pay</title>")


READY = """() => { const v = document.querySelector('video'), s = document.querySelector('.stage');
  const live = JSON.parse(document.getElementById('tc-timeline').textContent).live;
  return v.readyState >= 2 && s.classList.contains('tc-ready') && (!live || !!document.querySelector('.tc-o')); }"""

PLAY_FROM = """async (t) => { const v = document.querySelector('video'); v.muted = true;
  await Promise.race([new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; }), new Promise(r => setTimeout(r, 5000))]);
  try { await v.play(); } catch (e) {} return !v.paused; }"""


def _sweep(page, cta=None, top: float = 0, bottom: float = 0, steps: tuple[int, int] = (STEP, FINE)) -> list[dict]:
    return page.evaluate(SWEEP_JS, {"step": steps[0], "fine": steps[1], "top": top, "bottom": bottom, "cta": cta})


def _check_unpaid(steps: list[dict], where: str) -> None:
    assert len(steps) > 40, f"{where}: only {len(steps)} positions looked at"
    seen = [s for s in steps if s["onScreen"] >= 1]
    assert len(seen) > 20, f"{where}: the picture was on screen at only {len(seen)} positions"
    assert all(s["playing"] for s in steps), f"{where}: the video stopped while the page scrolled"
    for s in steps:
        assert s["over"] == [], f"{where}: focusable elements on the picture at scroll {s['y']:.0f}: {s}"
    for s in seen:
        assert s["pays"], f"{where}: {s['onScreen']:.0f} px of the picture on screen and no pay action at scroll {s['y']:.0f}: {s}"
        assert max(p["height"] for p in s["pays"]) >= MIN_TARGET, (where, s)
    # both strips take their turn: the one over the picture and the bar under it
    names = {p["name"] for s in seen for p in s["pays"]}
    assert {".tc-top", ".tc-bar"} <= names, (where, names)


@pytest.mark.parametrize("sample,mode,screen", [(sample, *case) for sample, cases in CASES.items() for case in cases])
def test_scrolling_while_the_video_plays_never_covers_the_picture_and_keeps_a_pay_action_at_hand(
        chromium, published, settings, tmp_path, sample, mode, screen):
    out, row = published[(sample, mode)]
    _, ref, cents = CUSTOMERS[sample]
    where = f"{sample} ({mode}) on {screen}"
    with public_server(settings, tmp_path / "public.db") as public, serve(site_app(out, public)) as base, \
            open_page(chromium, f"{base}/{row['page']}", screen, wait=None, routes={f"https://{PAY_HOST}/**": _answer_pay}) as (page, log):
        page.wait_for_function(READY, timeout=20000)
        pic = page.evaluate(PICTURE_JS)
        if "landscape" not in screen:
            assert pic["video"] == [720, 1280] and pic["width"] >= 0.85 * pic["vw"], (where, pic)
        assert pic["height"] < pic["vh"], (where, pic)
        pay = page.evaluate("JSON.parse(document.getElementById('tc-timeline').textContent).pay")
        assert page.evaluate(PLAY_FROM, 0.5), where
        _check_unpaid(_sweep(page, cta=[pay["start"], pay["end"] + 0.05 + LAG]), where)
        # and through the pay scene, its call-to-action on the picture: the one thing allowed there
        assert page.evaluate(PLAY_FROM, pay["start"] + 0.3)
        steps = _sweep(page, cta=[pay["start"], pay["end"] + 0.05 + LAG], steps=COARSE)
        assert all(s["over"] == [] for s in steps), where
        assert any("tc-cta" in n for s in steps for n in s["anyPay"]), f"{where}: the call-to-action never showed"

        # the bill is paid; the customer comes back to the tab
        public_store(public).pay(Payment(ref, cents, "EUR", row["token"]), "test", dt.datetime.now(dt.timezone.utc))
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_selector(".tc-paid", timeout=10000)
        assert page.evaluate(PLAY_FROM, pay["start"] + 0.3)
        for s in _sweep(page, steps=COARSE):  # the CTA's window is not spared: it must not show
            assert s["anyPay"] == [] and s["over"] == [], f"{where}: a pay action left once paid, at scroll {s['y']:.0f}: {s}"
        assert log.errors == [], log.errors


@pytest.mark.parametrize("sample", list(CUSTOMERS))
def test_the_strips_keep_clear_of_the_notch_and_the_home_indicator(chromium, published, sample):
    """iPhone 13 with its safe areas: the picture shrinks by them, and a pay action stays between them."""
    out, row = published[(sample, "baked")]
    for screen, insets in (("iPhone 13", {"top": 47, "bottom": 34, "left": 0, "right": 0}),
                           ("iPhone 13 landscape", {"top": 0, "bottom": 21, "left": 47, "right": 47})):
        with serve(site_app(out)) as base, open_page(chromium, None, screen, wait=None) as (page, log):
            page.context.new_cdp_session(page).send("Emulation.setSafeAreaInsetsOverride", {"insets": insets})
            page.goto(f"{base}/{row['page']}")
            page.wait_for_function(READY, timeout=20000)
            assert page.evaluate(PLAY_FROM, 0.5)
            steps = _sweep(page, top=insets["top"], bottom=insets["bottom"])
            for s in steps:
                assert s["over"] == [], (screen, s)
                if s["onScreen"] >= 1:
                    assert s["pays"], f"{sample} on {screen} with safe areas: no pay action between them at scroll {s['y']:.0f}: {s}"
            for sel in (".tc-top .pay", ".tc-bar .pay"):
                box, vw = page.locator(sel).bounding_box(), page.evaluate("innerWidth")
                assert box["x"] >= insets["left"] and box["x"] + box["width"] <= vw - insets["right"], (screen, sel, box)


@pytest.mark.parametrize("device", ["iPhone SE", "iPhone 13"])
@pytest.mark.parametrize("mode", ["baked", "live"])
@pytest.mark.parametrize("sample", list(CUSTOMERS))
def test_without_javascript_nothing_covers_the_picture_either(chromium, published, sample, mode, device):
    out, row = published[(sample, mode)]
    with serve(site_app(out)) as base, open_page(chromium, f"{base}/{row['page']}", device, wait=None, java_script_enabled=False) as (page, _):
        for _ in range(200):  # scripts off: the page runs no timer, so poll from here, not with wait_for_function
            if page.evaluate("document.querySelector('video').readyState >= 1"):
                break
            page.wait_for_timeout(100)
        assert page.locator(".tc-frame").count() == 0
        stops = page.evaluate(SCROLL_STOPS_JS, {"step": STEP, "fine": FINE})
        steps = [page.evaluate(LOOK_AT_JS, {"y": y, "top": 0, "bottom": 0, "cta": None}) for y in stops]
        assert len(steps) > 40 and sum(s["onScreen"] >= 1 for s in steps) > 20, steps
        for s in steps:
            assert s["over"] == [], (device, s)
            if s["onScreen"] >= 1:
                assert s["pays"], f"{sample} ({mode}) without JS on {device}: no pay action at scroll {s['y']:.0f}: {s}"
