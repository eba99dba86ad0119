"""Colour: segments are BT.709, limited range, and say so; a browser plays the brand colour as the brand colour."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from helpers.browser import open_page
from helpers.web import folder_app, serve
from helpers.tiny import tiny_yaml, write_tiny
from renderer.cache import SegmentCache
from renderer.profiles import encoder_profile

BRAND = (0x0B, 0x3D, 0x78)
TOLERANCE = 3  # per channel, out of 255
# FFmpeg's enum values (AVColorPrimaries, AVColorTransferCharacteristic, AVColorSpace, AVColorRange) as PyAV reports them
BT709 = 1
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG, "tv"

# one shared scene (no customer field) and one personal scene long enough for held skip frames; the lower
# half of both is the flat brand colour. Chromium guesses BT.601 for untagged SD video and BT.709 for HD,
# so the browser test plays the HD rendition (where the untagged BT.601 encode played as rgb(6,59,118)).
FLAT = tiny_yaml("flat", "#0B3D78", video="""
    fps: 10
    renditions:
      small: {width: 192, height: 128}
      hd: {width: 1280, height: 720}
    default_rendition: small
    profile: {preset: ultrafast, crf: 23}
""", scenes="""
    - id: hello
      duration: 1
      background: {color: "#0B3D78"}
      layers:
        - {type: text, text: "Hi", box: {x: 0.5, y: 0.2, w: 0.9, h: 0.3}, style: {color: "#FFFFFF"}, enter: fade}
    - id: name
      duration: 4
      background: {color: "#0B3D78"}
      layers:
        - {type: text, text: "{{ first_name }}", box: {x: 0.5, y: 0.2, w: 0.9, h: 0.3}, style: {color: "#FFFFFF"}, enter: fade}
""")


@pytest.fixture
def flat(tmp_path):
    from tailorcast.spec.load import load_template

    return load_template(write_tiny(tmp_path / "flat", FLAT, page="<p>{{ first_name }}</p>"))


def _ctx(tpl):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    return customer_context(tpl, validate_row(tpl, 2, {"customer_id": "C1", "locale": "en", "first_name": "Ann"}))


def _colour_tags(path) -> tuple:
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range)


def _bt709_pixel(path, n: int, xy: tuple[int, int]) -> tuple[int, ...]:
    """Frame ``n`` decoded with the BT.709 limited-range matrix, as a browser does."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n:
                rgb = frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()
                return tuple(int(v) for v in rgb[xy[1], xy[0]])
    raise AssertionError(f"{path} has no frame {n}")


def _close(px, want=BRAND) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(px, want, strict=True))


def test_every_segment_is_bt709_limited_range_tagged_and_keeps_the_brand_colour(flat, tmp_path):
    """Personal (held skip frames appended), shared: same tags, same colour."""
    from renderer.encode import HELD_TAIL, MIN_SAVED, encode_personal, last_change
    from renderer.video import resolve_all

    shared, personal = resolve_all(flat, _ctx(flat))
    assert shared.shared and not personal.shared
    assert personal.frames - (last_change(personal) + HELD_TAIL) >= MIN_SAVED  # the skip-frame path applies
    outs = {}
    for name, rs, encode in (("shared-graph", shared, encode_personal), ("personal-held-skip", personal, encode_personal)):
        outs[name] = tmp_path / f"{name}.mp4"
        encode(rs, outs[name], encoder_profile(flat.video))
    for name, path in outs.items():
        assert _colour_tags(path) == (BT709, BT709, BT709, LIMITED_RANGE), name
        frames = shared.frames if name.startswith("shared") else personal.frames
        for n in (0, frames - 1):
            px = _bt709_pixel(path, n, (96, 110))
            assert _close(px), (name, n, px)


def test_joined_video_and_live_base_video_are_tagged_bt709(flat, tmp_path):
    from renderer import live
    from renderer.video import render_video
    from tailorcast.context import locale_context

    cache = SegmentCache(tmp_path / "cache")
    res = render_video(flat, _ctx(flat), tmp_path / "out", cache)
    assert _colour_tags(res.video) == (BT709, BT709, BT709, LIMITED_RANGE)
    _, base = live.render_base(flat, locale_context(flat, "en", "en", None), ("hello", "name"), "small", cache)
    assert _colour_tags(base) == (BT709, BT709, BT709, LIMITED_RANGE)


def test_pixels_leave_rgb_through_the_bt709_matrix(flat, tmp_path):
    """The ffmpeg graph converts with BT.709 (not only tags it)."""
    from renderer.encode import encoder_args, scene_command
    from renderer.video import resolve_all

    rs = resolve_all(flat, _ctx(flat))[1]
    args = scene_command(rs, tmp_path, tmp_path / "o.mp4", encoder_profile(flat.video))
    graph = args[args.index("-filter_complex") + 1]
    assert "out_color_matrix=bt709" in graph and "out_range=tv" in graph
    assert "format=yuv420p" in graph
    assert "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv" in encoder_args(encoder_profile(flat.video), 10)["x264-params"]


PAUSE_AT = """async (t) => {
  const v = document.querySelector('video');
  if (v.readyState < 2) await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
  v.pause();
  await new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; });
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const b = v.getBoundingClientRect();
  return {x: b.x, y: b.y, w: b.width, h: b.height, vw: v.videoWidth, err: v.error && v.error.code};
}"""


@pytest.mark.browser
def test_chromium_plays_the_brand_colour_as_the_brand_colour(chromium, flat, tmp_path):
    """A flat brand-colour area, paused in Chromium and read back from a screenshot: within 3 units of #0B3D78."""
    from renderer.video import render_video

    root = tmp_path / "www"
    root.mkdir()
    res = render_video(flat, _ctx(flat), tmp_path / "out", SegmentCache(tmp_path / "cache"), rendition="hd")
    (root / "v.mp4").write_bytes(res.video.read_bytes())
    (root / "index.html").write_text('<!doctype html><body style="margin:0;background:#fff">'
                                     '<video src="v.mp4" muted playsinline preload="auto" width="1280" height="720"></video>')
    with serve(folder_app(root)) as url, open_page(chromium, url + "/", wait="load", viewport={"width": 1280, "height": 720},
                                                     device_scale_factor=1) as (page, _):
        box = page.evaluate(PAUSE_AT, 3.0)  # inside the personal scene, after its held frames were appended
        assert box["err"] is None and box["vw"] == 1280, box
        shot = Image.open(io.BytesIO(page.screenshot(clip={"x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"]}))).convert("RGB")
    area = [shot.getpixel((x, y)) for x in (100, 640, 1180) for y in (500, 650)]  # lower half: brand colour only
    print("pixel read back from Chromium:", area[0], "want", BRAND)
    assert all(_close(px) for px in area), area
