"""Live mode: the shared base video with the customer's live stills drawn by the browser looks like the baked video.

Without a browser: base frame + live stills, composited in Python, equal the baked reference frame
pixel for pixel. With Chromium: the live page plays the base video from shared/video/, shows each
live still on its frames, and a paused live frame matches the baked mp4's frame decoded with PyAV
(SSIM on a downscaled grayscale, with a control that fails without the live stills).
"""

from __future__ import annotations

import base64
import dataclasses
import io
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import av
import numpy as np
import pytest
from PIL import Image

from helpers.browser import DEVICES, open_page
from helpers.pictures import ssim
from helpers.runs import publish
from helpers.samples import REMINDER_DIR, SAMPLE_CSV, TEMPLATE_DIR, copy_template, edit_file, pick_rows
from helpers.web import serve, site_app
from renderer import live
from renderer.animation import appearance, canvas_for
from renderer.scenes import played_scenes
from renderer.video import resolve_all
from tailorcast import keys
from tailorcast.context import customer_context, locale_context
from tailorcast.customers import read_customers
from tailorcast.errors import RenderError, TemplateError
from tailorcast.spec.load import load_template

LIVE_ID = "CUST-00001"  # Italian: the bill-explainer's five scenes, three of them personal
SIMILAR = {"ssim": 0.95, "mad": 6.0}  # on a grayscale downscaled to 90x160 (or 160x90)


def _customer(template, path: Path, customer_id: str):
    return next(r for r in read_customers(template, path) if getattr(r, "customer_id", None) == customer_id)


def _still_state(o: live.LiveStill, still: Image.Image, n: int, short: int, rtl: bool) -> Image.Image | None:
    """The live still at frame ``n`` of the whole video, as renderer.scenes.Sprite.state draws it."""
    if n < o.start or n >= o.end:
        return None
    canvas = canvas_for((o.enter, o.exit), o.width, o.height, short)
    k, left = n - o.start, o.end - n
    if o.enter_frames and k < o.enter_frames:
        return appearance(still, o.enter, k / o.enter_frames, canvas, short, rtl)
    if o.exit_frames and left <= o.exit_frames:
        return appearance(still, o.exit, (left - 1) / o.exit_frames, canvas, short, rtl)
    return appearance(still, "none", 1.0, canvas, short, rtl)


def _from_sheet(o: live.LiveStill, sheets: list[live.Sheet]) -> Image.Image:
    """The still as the page shows it: its drawn part, cut out of its decoded sheet, in a clear box of its size."""
    sheet = Image.open(io.BytesIO(sheets[o.sheet].data)).convert("RGBA")
    left, top, w, h = o.drawn
    still = Image.new("RGBA", (o.width, o.height), (0, 0, 0, 0))
    still.paste(sheet.crop((o.sx, o.sy, o.sx + w, o.sy + h)), (left, top))
    return still


def _visible(img: Image.Image) -> np.ndarray:
    """RGBA pixels with the colour of wholly transparent ones cleared (a lossless WebP need not keep it)."""
    a = np.asarray(img.convert("RGBA")).copy()
    a[a[..., 3] == 0] = 0
    return a


# ---------------------------------------------------------------- without a browser

@pytest.mark.e2e  # every third frame of both renditions at full size, composited in Python: ~15 s
@pytest.mark.parametrize("folder,customer_id", [(TEMPLATE_DIR, LIVE_ID), (REMINDER_DIR, "R-0005")])
def test_base_video_plus_live_stills_is_the_baked_frame_pixel_for_pixel(folder, customer_id):
    template = load_template(folder)
    customer = _customer(template, folder / "sample-customers.csv", customer_id)
    ctx = customer_context(template, customer)
    shared_ctx = locale_context(template, customer.locale, customer.strings_locale, ctx["variant"])
    for r in template.video.renditions:
        full = resolve_all(template, ctx, r.name)
        played = played_scenes(template, ctx, r.name)
        assert played == tuple(rs.id for rs in full)
        base = live.base_scenes(template, shared_ctx, played, r.name)
        live_stills, sheets = live.live_sheets(template, ctx, r.name)
        assert live_stills and len(sheets) == 1, "a personal template has live stills, in one sheet"
        stills = [_from_sheet(o, sheets) for o in live_stills]  # as the player cuts them out of the published sheet
        short, rtl = min(r.width, r.height), ctx["dir"] == "rtl"
        offset, checked = 0, 0
        for rs, bs in zip(full, base, strict=True):
            assert bs.frames == rs.frames
            if rs.shared:  # a shared scene is its own base: the same segment
                assert bs.key == rs.key
                offset += rs.frames
                continue
            for n in range(0, rs.frames, 3):
                img = bs.frame(n).convert("RGBA")
                for o, still in zip(live_stills, stills, strict=True):
                    st = _still_state(o, still, offset + n, short, rtl)
                    if st is not None:
                        canvas = canvas_for((o.enter, o.exit), o.width, o.height, short)
                        img.alpha_composite(st, (o.x - canvas.ox, o.y - canvas.oy))
                diff = np.abs(np.asarray(img.convert("RGB"), int) - np.asarray(rs.frame(n), int)).max()
                assert diff == 0, f"{template.name} {r.name} scene {rs.id} frame {n}: live composite differs by {diff}"
                checked += 1
            offset += rs.frames
        assert checked >= 100


def test_base_scenes_are_the_same_for_every_customer_of_a_locale():
    template = load_template(TEMPLATE_DIR)
    rows = [c for c in read_customers(template, SAMPLE_CSV) if getattr(c, "locale", None) == "it"][:2]
    shared_ctx = locale_context(template, "it")
    keys_seen = []
    for c in rows:
        played = played_scenes(template, customer_context(template, c), "portrait")
        keys_seen.append([rs.key for rs in live.base_scenes(template, shared_ctx, played, "portrait")])
    assert keys_seen[0] == keys_seen[1]
    # and a shared scene's base is the shared scene itself (its segment is reused)
    pk_scenes = {rs.id: rs.key for rs in resolve_all(template, customer_context(template, rows[0]), "portrait")}
    assert keys_seen[0][0] == pk_scenes["intro"] and keys_seen[0][3] == pk_scenes["tip"]


def test_personal_layers_leave_the_base_and_a_shared_layer_above_one_follows_them():
    template = load_template(REMINDER_DIR)
    overdue = template.scene("overdue")
    base, over = live.split_layers(overdue, "portrait")
    assert [layer.type for layer in base] == ["shape"]  # the card under the amount stays in the base
    assert [layer.index for layer in over] == [0, 1, 3]
    shape, amount = overdue.layers[2], overdue.layers[3]
    swapped = dataclasses.replace(overdue, layers=(amount, shape))  # the shared card now drawn over the amount
    base, over = live.split_layers(swapped, "portrait")
    assert base == () and [layer.type for layer in over] == ["text", "shape"]


def test_played_scenes_follow_the_customers_conditions():
    template = load_template(REMINDER_DIR)
    rows = {c.customer_id: c for c in read_customers(template, REMINDER_DIR / "sample-customers.csv") if hasattr(c, "values")}
    small = customer_context(template, rows["R-0001"])  # 69.30: no instalment offer
    large = customer_context(template, rows["R-0005"])  # 189.40
    assert "instalments" not in played_scenes(template, small, "portrait")
    assert played_scenes(template, large, "portrait") == ("intro", "overdue", "instalments", "pay", "outro")


def test_live_template_refuses_a_personal_background_colour(tmp_path):
    folder = copy_template(TEMPLATE_DIR, tmp_path)
    edit_file(folder, "  default_rendition: portrait\n", "  default_rendition: portrait\n  live: true\n")
    assert load_template(folder).video.live is True
    edit_file(folder, 'background: {color: "{{ brand.color }}"}', "background: {color: \"{{ '#000000' if amount_due > 100 else brand.color }}\"}")
    with pytest.raises(TemplateError) as err:
        load_template(folder)
    assert "with video.live the background is in the shared base video" in str(err.value)
    assert "amount_due" in str(err.value)


def test_live_sheet_keys_sit_in_the_customers_folder():
    token = "q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u"
    assert keys.live_sheet_file(token, keys.live_sheet_name("portrait")) == f"c/{token}/o/portrait.webp"
    assert keys.is_public(keys.live_sheet_file(token, "portrait.webp"))
    assert keys.is_public(keys.live_sheet_file(token, keys.live_sheet_name("portrait", 1)))
    with pytest.raises(ValueError):
        keys.live_sheet_file(token, "../index.html")


def _overlap_free(places, sizes, sheets, pad: int) -> None:
    """Every rectangle inside its sheet, at offsets that are multiples of ``pad``, at least ``pad`` pixels from any other."""
    for i, ((n, x, y), (w, h)) in enumerate(zip(places, sizes, strict=True)):
        assert 0 <= x and 0 <= y and x + w <= sheets[n][0] and y + h <= sheets[n][1], (i, places[i], sheets[n])
        assert x % pad == 0 and y % pad == 0
        assert sheets[n][0] <= live.SHEET_SIDE and sheets[n][1] <= live.SHEET_SIDE
        for j in range(i):
            (m, x2, y2), (w2, h2) = places[j], sizes[j]
            if m == n:  # apart by pad pixels along x or along y
                assert x + w + pad <= x2 or x2 + w2 + pad <= x or y + h + pad <= y2 or y2 + h2 + pad <= y, (i, j, places[i], places[j])


@pytest.mark.parametrize("seed", range(6))
def test_packed_rectangles_never_overlap_and_keep_their_padding(seed):
    rng = np.random.default_rng(seed)
    sizes = [(int(rng.integers(1, 700)), int(rng.integers(1, 400))) for _ in range(int(rng.integers(1, 30)))]
    places, sheets = live.pack(sizes, 720)
    _overlap_free(places, sizes, sheets, live.SHEET_PAD)
    assert len(sheets) == 1 and sheets[0][0] <= max(720, max(w for w, _ in sizes))
    # a sheet that would pass the side starts another one, and no rectangle is left out
    places, sheets = live.pack(sizes, 720, side=800)
    _overlap_free(places, sizes, sheets, live.SHEET_PAD)
    assert all(w <= 800 and h <= 800 for w, h in sheets) and {n for n, _, _ in places} == set(range(len(sheets)))
    assert len(sheets) >= -(-sum(w * h for w, h in sizes) // (800 * 800))
    assert live.pack([], 720) == ([], [])
    with pytest.raises(RenderError, match="larger than a sheet"):
        live.pack([(100, 900)], 720, side=800)


@pytest.mark.parametrize("folder,customer_id", [(TEMPLATE_DIR, LIVE_ID), (REMINDER_DIR, "R-0005"), (REMINDER_DIR, "R-0002")])
def test_every_live_still_is_in_its_sheet_pixel_for_pixel(folder, customer_id):
    """One sheet per rendition; each still's drawn part sits in it as drawn alone, with clear padding around it."""
    template = load_template(folder)
    ctx = customer_context(template, _customer(template, folder / "sample-customers.csv", customer_id))
    for r in template.video.renditions:
        alone = live.live_stills(template, ctx, r.name)
        stills, sheets = live.live_sheets(template, ctx, r.name)
        assert [sh.name for sh in sheets] == [f"{r.name}.webp"] and len(stills) == len(alone) >= 4
        decoded = Image.open(io.BytesIO(sheets[0].data))
        assert decoded.format == "WEBP" and decoded.info.get("lossless", True) and decoded.size == (sheets[0].width, sheets[0].height)
        assert sheets[0].width <= r.width
        _overlap_free([(o.sheet, o.sx, o.sy) for o in stills], [o.drawn[2:] for o in stills], [(sh.width, sh.height) for sh in sheets],
                      live.SHEET_PAD)
        covered = np.zeros((sheets[0].height, sheets[0].width), bool)
        for o, a in zip(stills, alone, strict=True):
            assert (o.x, o.y, o.width, o.height, o.start, o.end) == (a.x, a.y, a.width, a.height, a.start, a.end)
            left, top, w, h = o.drawn
            assert a.image.getbbox() == (left, top, left + w, top + h)  # nothing drawn outside the part in the sheet
            assert np.array_equal(_visible(_from_sheet(o, sheets)), _visible(a.image)), (r.name, o)
            covered[o.sy:o.sy + h, o.sx:o.sx + w] = True
        clear = np.asarray(decoded.convert("RGBA"))[..., 3][~covered]
        assert (clear == 0).all(), "the sheet is clear between the stills"


def test_stills_past_a_sheets_side_start_a_second_sheet():
    template = load_template(TEMPLATE_DIR)
    ctx = customer_context(template, _customer(template, SAMPLE_CSV, LIVE_ID))
    alone = live.live_stills(template, ctx, "portrait")
    side = max(max(o.drawn[2:]) for o in alone) + 8
    stills, sheets = live.pack_stills(alone, "portrait", 720, side=side)
    assert len(sheets) >= 2 and [sh.name for sh in sheets] == ["portrait.webp"] + [f"portrait.{n}.webp" for n in range(1, len(sheets))]
    assert {o.sheet for o in stills} == set(range(len(sheets))) and all(sh.width <= side and sh.height <= side for sh in sheets)
    for o, a in zip(stills, alone, strict=True):
        assert np.array_equal(_visible(_from_sheet(o, sheets)), _visible(a.image))
    assert live.pack([(700, 400)] * 3, 720, side=804) == ([(0, 0, 0), (0, 0, 404), (1, 0, 0)], [(700, 804), (700, 400)])


# ---------------------------------------------------------------- in Chromium
# ---------------------------------------------------------------- in Chromium



@pytest.fixture(scope="module")
def live_site(settings, ray_session, tmp_path_factory):
    """The bill-explainer with ``live: true``, run for one customer and served: (base URL, folder, manifest row)."""
    tmp = tmp_path_factory.mktemp("live")
    folder = copy_template(TEMPLATE_DIR, tmp)
    edit_file(folder, "  default_rendition: portrait\n", "  default_rendition: portrait\n  live: true\n")
    run = publish(load_template(folder), pick_rows(SAMPLE_CSV, [LIVE_ID], tmp / "in.csv"), settings, tmp / "pub")
    assert run.summary.ok == 1, run.summary
    with serve(site_app(run.out)) as base:
        yield base, run.out, run.rows()[0]


LIVE_READY = ("() => { const v = document.querySelector('video');"
              " return v.currentSrc.includes('/shared/video/') && v.readyState >= 1 && document.querySelector('.tc-o'); }")


@contextmanager
def _open_live(chromium, url: str, device: str | None = None, **options):
    """The live page, once it plays the shared base video with its stills in place: (page, log)."""
    with open_page(chromium, url, device, wait=None, **options) as (page, log):
        page.wait_for_function(LIVE_READY)
        yield page, log


def _timeline(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('tc-timeline').textContent)")


SEEK = """async (n) => {
  const v = document.querySelector('video');
  const fps = JSON.parse(document.getElementById('tc-timeline').textContent).fps;
  const wait = (p, ms) => Promise.race([p, new Promise(r => setTimeout(r, ms))]);
  v.pause();
  await wait(new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = (n + 0.5) / fps; }), 5000);
  await wait(new Promise(r => v.requestVideoFrameCallback ? v.requestVideoFrameCallback(() => r()) : r()), 700);
  await wait(new Promise(r => { const drawn = () => [...document.querySelectorAll('canvas.tc-o')].every(c => c.hasAttribute('data-drawn')) ? r() : setTimeout(drawn, 20); drawn(); }), 3000);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [...document.querySelectorAll('.tc-o')].map(i => ({v: i.style.visibility, o: i.style.opacity, t: i.style.transform, c: i.style.clipPath}));
}"""


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_live_page_plays_the_shared_base_video_with_the_customers_live_stills(chromium, live_site, device):
    base, out, row = live_site
    with _open_live(chromium, f"{base}/{row['page']}", device) as (page, log):
        state = page.evaluate("""async () => { const v = document.querySelector('video'); v.muted = true;
            try { await v.play(); } catch (e) {} await new Promise(r => setTimeout(r, 1200));
            return {t: v.currentTime, paused: v.paused, w: v.videoWidth, h: v.videoHeight, src: v.currentSrc,
                    stills: await new Promise(r => { const drawn = () => [...document.querySelectorAll('canvas.tc-o')].every(c => c.hasAttribute('data-drawn')) ? r([...document.querySelectorAll('.tc-o')]
                        .map(c => [c.width, c.height, c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)]))
                        : setTimeout(drawn, 20); drawn(); }),
                    download: document.querySelector('.download a').getAttribute('href')}; }""")
        data = _timeline(page)
        assert not state["paused"] and state["t"] > 0.3
        assert (state["w"], state["h"]) == (720, 1280)  # portrait phone, portrait base video
        key = urlparse(state["src"]).path.lstrip("/")
        assert key.startswith("shared/video/") and (out / key).is_file()
        assert key == keys.shared_object("video", Path(key).stem, "mp4")
        live_data = data["live"]["portrait"]
        stills, sheets = live_data["stills"], live_data["sheets"]
        assert [s["src"] for s in sheets] == ["o/portrait.webp"]  # one image holds every live still of the rendition
        assert state["stills"] == [[o["width"], o["height"], True] for o in stills], "every still is drawn from the sheet"
        folder = out / "c" / row["token"]
        assert sorted(p.name for p in (folder / "o").iterdir()) == ["landscape.webp", "portrait.webp"]
        assert Image.open(folder / "o" / "portrait.webp").size == (sheets[0]["width"], sheets[0]["height"])
        assert [u for u in log.requests if "/o/" in u] == [f"{base}/c/{row['token']}/o/portrait.webp"], "the sheet is one request"
        # the baked video stays published for download and sharing
        assert state["download"] == "video-portrait.mp4"
        assert urlopen(f"{base}/c/{row['token']}/video-portrait.mp4").status == 200
        assert log.errors == [] and [c for c in log.console if c[0] in ("error", "warning")] == []
        assert {urlparse(u).hostname for u in log.requests if not u.startswith("data:")} == {"127.0.0.1"}


@pytest.mark.browser
@pytest.mark.e2e
def test_live_stills_show_on_their_frames_with_their_animation(chromium, live_site):
    base, _, row = live_site
    with _open_live(chromium, f"{base}/{row['page']}", "Pixel 5") as (page, _):
        data = _timeline(page)
        stills, total = data["live"]["portrait"]["stills"], round(data["duration"] * data["fps"])
        checked = 0
        for i, o in enumerate(stills):
            if o["start"] > 0:
                assert page.evaluate(SEEK, o["start"] - 1)[i]["v"] == "hidden", f"live still {i} before frame {o['s']}"
            if o["enterFrames"] >= 4:
                mid = page.evaluate(SEEK, o["start"] + o["enterFrames"] // 2)[i]
                assert mid["v"] == "visible"
                if o["enter"] == "wipe":
                    assert mid["c"].startswith("inset(") and mid["o"] == "1"
                else:
                    assert 0 < float(mid["o"]) < 1, (o["enter"], mid)
                    if o["enter"] != "fade":
                        assert mid["t"] not in ("", "none"), (o["enter"], mid)
            settled = o["start"] + o["enterFrames"]
            if settled < o["end"] - o["exitFrames"]:
                st = page.evaluate(SEEK, settled)[i]
                assert (st["v"], st["o"], st["t"], st["c"]) == ("visible", "1", "none", "none"), (i, st)
            if o["end"] < total:
                assert page.evaluate(SEEK, o["end"])[i]["v"] == "hidden"
            checked += 1
        assert checked == len(stills) >= 8


def _gray(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize(size, Image.Resampling.BOX).convert("L"), dtype=np.float64)


def _baked_frames(path: Path, wanted: set[int]) -> dict[int, Image.Image]:
    out = {}
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_image()
            if i >= max(wanted):
                break
    return out


# frames of the bill-explainer: intro 0-119 (shared), greeting 120-239, amount 240-479, tip 480-659 (shared), pay 660-839
FRAMES = [60, 127, 143, 200, 247, 285, 400, 560, 676, 694, 780]
NATIVE = """async () => { const v = document.querySelector('video');
  v.controls = false; for (const t of v.textTracks) t.mode = 'hidden';
  document.querySelectorAll('.tc-cta, .tc-sound, .tc-replay').forEach(e => { e.style.display = 'none'; });
  v.style.maxHeight = 'none'; v.style.width = v.videoWidth / 2 + 'px'; v.style.height = v.videoHeight / 2 + 'px';
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }"""
FRAME_BOX = "() => { const f = document.querySelector('.tc-frame').getBoundingClientRect(); return {x: f.x, y: f.y, width: f.width, height: f.height}; }"


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.parametrize("rendition,viewport", [("portrait", {"width": 500, "height": 1500}), ("landscape", {"width": 1000, "height": 800})])
def test_paused_live_frame_looks_like_the_baked_frame(chromium, live_site, rendition, viewport):
    """Drawn at the video's own size (device scale 2), so the comparison measures the live stills, not resampling."""
    base, out, row = live_site
    with _open_live(chromium, f"{base}/{row['page']}", viewport=viewport, device_scale_factor=2) as (page, _):
        assert page.evaluate("document.querySelector('video').videoWidth") == (720 if rendition == "portrait" else 1280)
        page.evaluate(NATIVE)
        baked = _baked_frames(out / "c" / row["token"] / f"video-{rendition}.mp4", set(FRAMES))
        size = (90, 160) if rendition == "portrait" else (160, 90)
        scores = {}
        for n in FRAMES:
            page.evaluate(SEEK, n)
            box = page.evaluate(FRAME_BOX)
            shot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
            assert shot.size == baked[n].size, (shot.size, baked[n].size)
            a, b = _gray(shot, size), _gray(baked[n], size)
            scores[n] = (round(ssim(a, b), 4), round(float(np.abs(a - b).mean()), 2))
        print(f"live vs baked ({rendition}), frame: (SSIM, mean abs diff /255): {scores}")
        bad = {n: s for n, s in scores.items() if s[0] < SIMILAR["ssim"] or s[1] >= SIMILAR["mad"]}
        assert not bad, f"live frames unlike the baked ones: {bad}"
        # control: the same comparison without the live stills fails on personal frames
        page.evaluate("document.querySelector('.tc-ov').style.display = 'none'")
        page.evaluate(SEEK, 400)
        shot = Image.open(io.BytesIO(page.screenshot(clip=page.evaluate(FRAME_BOX)))).convert("RGB")
        assert ssim(_gray(shot, size), _gray(baked[400], size)) < SIMILAR["ssim"]


@pytest.mark.browser
@pytest.mark.e2e
def test_live_page_without_javascript_shows_the_baked_video(chromium, live_site):
    base, _, row = live_site
    with open_page(chromium, f"{base}/{row['page']}", "iPhone 13", wait=None, java_script_enabled=False) as (page, _):
        assert page.locator("video source").first.get_attribute("src") == "video-portrait.mp4"
        assert page.locator(".tc-frame, .tc-o").count() == 0
        assert page.is_visible("#pay") and page.is_visible("video")


@pytest.mark.browser
@pytest.mark.e2e
def test_live_page_falls_back_to_the_baked_video_when_the_base_video_is_missing(chromium, live_site):
    base, _, row = live_site
    gone = {"**/shared/video/*": lambda route: route.fulfill(status=404, body="gone")}
    with open_page(chromium, f"{base}/{row['page']}", "iPhone 13", wait=None, routes=gone) as (page, log):
        page.wait_for_function("document.querySelector('video').currentSrc.endsWith('/video-portrait.mp4') && document.querySelector('video').readyState >= 1")
        assert page.locator(".tc-o").count() == 0 and log.errors == []



@pytest.mark.browser
@pytest.mark.e2e
def test_a_sheet_that_fails_to_load_is_asked_for_again_and_drawn(chromium, live_site):
    """A phone on a bad network: the sheet's first request fails; the player asks again and every still is drawn."""
    base, _, row = live_site
    failed = []

    def flaky(route):
        if not failed:
            failed.append(route.request.url)
            return route.abort("connectionreset")
        return route.continue_()

    with open_page(chromium, f"{base}/{row['page']}", "iPhone 13", wait=None, routes={"**/o/portrait.webp": flaky}) as (page, log):
        page.wait_for_function("() => document.querySelectorAll('canvas.tc-o').length > 0 && "
                               "[...document.querySelectorAll('canvas.tc-o')].every(c => c.hasAttribute('data-drawn'))", timeout=15000)
        assert failed == [f"{base}/c/{row['token']}/o/portrait.webp"]
        assert [u for u in log.requests if "/o/" in u] == failed * 2, "one failed request, then one that worked"


# The stills as the player drew them before the sheets: an <img class="tc-o"> per still file at the still's box (in a
# second overlay), given the state (visibility, opacity, transform, clip) the player gives the still's box now.
OLD_PLAYER = """(srcs) => { const ov = document.querySelector('.tc-ov'), old = ov.cloneNode(false);
  document.querySelector('video').style.visibility = 'hidden';
  document.querySelector('.tc-frame').style.background = 'rgb(16, 40, 80)';
  old.id = 'tc-old'; ov.parentNode.insertBefore(old, ov.nextSibling);
  [...ov.children].forEach((el, i) => { const img = document.createElement('img'); img.className = 'tc-o'; img.alt = ''; img.src = srcs[i];
    for (const k of ['left', 'top', 'width', 'height']) img.style[k] = el.style[k];
    old.appendChild(img); });
  return Promise.all([...old.children].map(i => i.decode())); }"""
SHOW = """(which) => { const ov = document.querySelector('.tc-ov'), old = document.getElementById('tc-old');
  [...ov.children].forEach((el, i) => { for (const k of ['visibility', 'opacity', 'transform', 'clipPath']) old.children[i].style[k] = el.style[k]; });
  ov.style.display = which === 'sheet' ? '' : 'none'; old.style.display = which === 'files' ? '' : 'none'; }"""


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.parametrize("rendition,viewport,scale", [("portrait", {"width": 500, "height": 1500}, 2), ("landscape", {"width": 1000, "height": 800}, 2),
                                                      ("portrait", {"width": 390, "height": 844}, 3)])
def test_stills_cut_from_the_sheet_look_like_a_file_per_still(chromium, live_site, rendition, viewport, scale):
    """Drawn from the sheet, every live still looks as it did with a file of its own, on every frame of FRAMES
    (entering, leaving, settled): the same place, size and animation, and nothing of a neighbour in the sheet.
    The video is hidden under a flat colour, so only the live stills are compared."""
    base, _, row = live_site
    with _open_live(chromium, f"{base}/{row['page']}", viewport=viewport, device_scale_factor=scale) as (page, _):
        if scale == 2:
            page.evaluate(NATIVE)  # drawn at the video's own size
        else:
            page.evaluate("document.querySelectorAll('.tc-cta, .tc-sound, .tc-replay').forEach(e => { e.style.display = 'none'; })")
        r = _timeline(page)["live"][rendition]
        assert page.evaluate("document.querySelector('video').videoWidth") == r["width"]
        sheets = [Image.open(urlopen(f"{base}/c/{row['token']}/{s['src']}")).convert("RGBA") for s in r["sheets"]]
        srcs = []
        for o in r["stills"]:  # each still as a file of its own: its drawn part in a clear box of the still's size
            left, top, w, h = o["c"]
            still = Image.new("RGBA", (o["width"], o["height"]), (0, 0, 0, 0))
            still.paste(sheets[o["sheet"]].crop((o["sx"], o["sy"], o["sx"] + w, o["sy"] + h)), (left, top))
            buf = io.BytesIO()
            still.save(buf, "PNG")
            srcs.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
        page.evaluate(OLD_PLAYER, srcs)
        scores = {}
        for n in FRAMES:
            page.evaluate(SEEK, n)
            shots = {}
            for which in ("sheet", "files"):
                page.evaluate(SHOW, which)
                page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                shots[which] = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=page.evaluate(FRAME_BOX)))).convert("RGB"), int)
            diff = np.abs(shots["sheet"] - shots["files"])
            off = diff.max(axis=2) > 2
            scores[n] = (int(diff.max()), round(float(diff.mean()), 4), round(float(off.mean()), 5), int((shots["files"] != [16, 40, 80]).any(axis=2).sum()))
        print(f"sheet vs a file per still ({rendition}, x{scale}), frame: (max, mean abs diff, share off by more than 2, pixels drawn): {scores}")
        assert sum(s[3] for s in scores.values()) > 0.05 * r["width"] * r["height"] * scale * scale / 4, "the stills are on the frames compared"
        if scale == 2:  # one device pixel per video pixel: the same pixels, but for rounding in a few (blending a canvas, not an <img>)
            assert all(s[2] < 0.0005 and s[1] < 0.005 for s in scores.values()), scores
        else:  # scaled: canvas and <img> are resampled a little differently
            assert all(s[1] < 0.05 for s in scores.values()), scores
