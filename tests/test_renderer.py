"""Renderer on tiny media: stills, animation, exact joins, segment cache."""

from __future__ import annotations

import pytest
from PIL import Image

from helpers.runs import ffmpeg_decode_errors
from renderer import animation
from renderer.cache import SegmentCache
from renderer.probe import probe
from renderer.profiles import EncoderProfile, encoder_profile
from renderer.text import Shaper, TextStyle, layout, paragraph_direction, draw_text, split_runs
from helpers.tiny import TINY, write_tiny


@pytest.fixture
def tiny(tmp_path):
    from tailorcast.spec.load import load_template

    return load_template(write_tiny(tmp_path / "tiny"))


def _ctx(tpl, name="Ann", cid="C1"):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    return customer_context(tpl, validate_row(tpl, 2, {"customer_id": cid, "locale": "en", "first_name": name}))


def test_tiny_video_has_exact_frames_and_decodes_clean(tiny, tmp_path):
    from renderer.video import render_video

    res = render_video(tiny, _ctx(tiny), tmp_path / "out", SegmentCache(tmp_path / "cache"))
    info = probe(res.video)
    assert info.video_frames == 14 == res.frames
    assert abs(info.duration - 1.4) < 0.01
    assert info.audio_codec == "aac" and info.faststart
    assert ffmpeg_decode_errors(res.video) == ""
    assert [(s, shared) for s, shared, _ in res.segments] == [("hello", True), ("name", False)]
    assert "00:00:00.600 --> 00:00:01.400\nAnn" in res.captions


def test_cache_reuses_shared_and_renders_only_changed_personal_scenes(tiny, tmp_path):
    from renderer.video import render_video

    cache = SegmentCache(tmp_path / "cache")
    first = render_video(tiny, _ctx(tiny, "Ann"), tmp_path / "a", cache)
    again = render_video(tiny, _ctx(tiny, "Ann", "C2"), tmp_path / "b", cache)
    other = render_video(tiny, _ctx(tiny, "Bob", "C3"), tmp_path / "c", cache)
    assert [hit for *_, hit in first.segments] == [False, False]
    assert [hit for *_, hit in again.segments] == [True, True]  # same pixels, other customer
    assert [hit for *_, hit in other.segments] == [True, False]  # only the personal scene re-renders


def test_personal_frames_match_the_python_reference(tiny, tmp_path):
    """The ffmpeg compositor draws what ResolvedScene.frame() (the poster/preview path) draws."""
    import av
    import numpy as np

    from renderer.encode import encode_personal
    from renderer.video import resolve_all

    rs = next(s for s in resolve_all(tiny, _ctx(tiny)) if not s.shared)
    out = tmp_path / "name.mp4"
    encode_personal(rs, out, EncoderProfile(preset="veryfast", crf=10))
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24").astype(float) for f in c.decode(video=0)]
    assert len(frames) == rs.frames
    for n in (0, 2, 4, 7):
        ref = np.asarray(rs.frame(n)).astype(float)
        assert np.abs(frames[n] - ref).mean() < 6, n


def test_ffmpeg_command_is_a_list_with_the_shared_encoder_profile(tiny, tmp_path):
    from renderer.encode import encoder_args, scene_command
    from renderer.video import resolve_all

    rs = next(s for s in resolve_all(tiny, _ctx(tiny)) if not s.shared)
    args = scene_command(rs, tmp_path, tmp_path / "o.mp4", encoder_profile(tiny.video))
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)
    out = args[args.index("-map"):]  # output options come after the filter graph
    for flag, value in (("-c:v", "libx264"), ("-pix_fmt", "yuv420p"), ("-preset", "ultrafast"), ("-vframes", "8"), ("-video_track_timescale", "5120")):
        assert out[out.index(flag) + 1] == value
    assert "Ann" not in " ".join(args)  # no file name from customer data
    assert encoder_args(encoder_profile(tiny.video), 30)["g"] == 300


def test_runs_pick_a_font_per_script():
    runs = split_runs("Hi שלום, مرحبا İşğ Γειά Привет", "regular")
    fonts = {r.text.strip(): r.font for r in runs}
    assert any("Hebrew" in f for f in fonts.values()) and any("Arabic" in f for f in fonts.values())
    assert paragraph_direction("مرحبا John") == "rtl" and paragraph_direction("John مرحبا") == "ltr"


def test_a_60_character_name_fits_its_box():
    name = "Wolfeschlegelsteinhausenbergerdorff Bartholomew Alexanderson"
    assert len(name) >= 60
    style = TextStyle(size=80, color=(255, 255, 255, 255), weight="bold", max_lines=1)
    size, lines = layout(f"Hello {name},", 1100, 144, style)
    assert len(lines) == 1 and size < 80
    assert Shaper(size, "bold").width(lines[0]) <= 1100
    img = draw_text(f"Hello {name},", 1100, 144, style)
    bbox = img.getbbox()
    assert bbox[0] >= 0 and bbox[2] <= 1100 and bbox[3] <= 144


def test_overflowing_text_ends_with_an_ellipsis():
    style = TextStyle(size=40, color=(0, 0, 0, 255), max_lines=1, overflow="ellipsis")
    _, lines = layout("a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3, 300, 60, style)
    assert len(lines) == 1 and lines[0].endswith("…")


def test_animation_progress():
    still = Image.new("RGBA", (40, 20), (255, 0, 0, 255))
    canvas = animation.canvas_for(("fade",), 40, 20, 720)
    assert animation.appearance(still, "fade", 0.5, canvas, 720).getpixel((10, 10))[3] in (127, 128)
    assert animation.appearance(still, "fade", 0.0, canvas, 720).getbbox() is None
    pop = animation.canvas_for(("pop",), 40, 20, 720)
    assert pop.width > 40 and pop.height > 20
    half = animation.appearance(still, "wipe", 0.5, animation.canvas_for(("wipe",), 40, 20, 720), 720)
    assert 0 < half.getbbox()[2] < 40
    slide = animation.canvas_for(("slide-left",), 40, 20, 720)
    assert slide.ox == animation.slide_distance(720) and slide.width == 40 + slide.ox


def test_the_graph_draws_a_video_background_like_the_reference(tmp_path):
    """The ffmpeg graph (every scene, shared ones over a clip included) agrees with ResolvedScene.frame()."""
    import av
    import numpy as np

    from tailorcast.spec.load import load_template
    from renderer.encode import encode_personal
    from renderer.video import resolve_all

    tpl = load_template(write_tiny(tmp_path / "clip", TINY.replace("  - id: hello\n    duration: 0.6\n", "  - id: hello\n    duration: 0.6\n    background: {video: assets:brand/bg-loop.mp4}\n")))
    rs = resolve_all(tpl, _ctx(tpl), "wide")[0]
    assert rs.background_video and rs.shared
    out = tmp_path / "clip.mp4"
    encode_personal(rs, out, EncoderProfile(preset="veryfast", crf=12))
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24").astype(float) for f in c.decode(video=0)]
    assert len(frames) == rs.frames
    for n in (0, 3, 5):
        assert np.abs(frames[n] - np.asarray(rs.frame(n)).astype(float)).mean() < 8, n


def test_scene_sound_effects_are_mixed_at_their_time(tmp_path):
    import av
    import numpy as np

    from tailorcast.spec.load import load_template
    from renderer.video import render_video

    yaml = TINY.replace("    background: {color: \"#203040\"}\n", "    background: {color: \"#203040\"}\n    sounds:\n      - {src: assets:music/chime.m4a, at: 0.1}\n")
    assert yaml != TINY
    tpl = load_template(write_tiny(tmp_path / "fx", yaml))
    res = render_video(tpl, _ctx(tpl), tmp_path / "out", SegmentCache(tmp_path / "cache"))
    with av.open(str(res.video)) as c:
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(c.streams.audio[0])])
    level = lambda a, b: float(np.abs(samples[int(a * 48000):int(b * 48000)]).mean())  # noqa: E731
    assert level(0.0, 0.5) < 0.002  # no music: silence before the 'name' scene (starts at 0.6 s)
    assert level(0.7, 1.0) > 0.05  # the chime at 0.6 + 0.1 s


@pytest.mark.e2e  # a real-size scene encoded twice (fast path and full x264) and decoded: ~12 s
def test_held_frames_appended_as_skip_frames_match_a_full_x264_encode(template, tmp_path):
    """The hold after the last animation is appended as P_Skip frames: same frames, same decode, far less CPU."""
    import av
    import numpy as np

    from renderer.encode import encode_personal, last_change, run, scene_command
    from renderer.holdskip import parse_avcc
    from renderer.video import resolve_all
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    row = dict(customer_id="C1", first_name="Giulia", email="g@example.com", locale="it", invoice_id="I-1", amount_due="84.20",
               due_date="2026-12-15", period_end="2026-10-31", kwh=";".join(str(100 + i) for i in range(12)))
    ctx = customer_context(template, validate_row(template, 2, row))
    rs = next(s for s in resolve_all(template, ctx, "landscape") if s.id == "amount")
    assert last_change(rs) + 8 + 15 < rs.frames  # the fast path applies
    fast, full = tmp_path / "fast.mp4", tmp_path / "full.mp4"
    encode_personal(rs, fast, encoder_profile(template.video))
    run(scene_command(rs, tmp_path, full, encoder_profile(template.video)), "reference")
    assert ffmpeg_decode_errors(fast) == ""
    assert probe(fast).video_frames == rs.frames
    with av.open(str(fast)) as a, av.open(str(full)) as b:
        assert parse_avcc(bytes(a.streams.video[0].codec_context.extradata)) == parse_avcc(bytes(b.streams.video[0].codec_context.extradata))
        fa = [f.to_ndarray(format="gray").astype(float) for f in a.decode(video=0)]
        fb = [f.to_ndarray(format="gray").astype(float) for f in b.decode(video=0)]
    assert len(fa) == len(fb) == rs.frames
    worst = max(float(np.abs(x - y).mean()) for x, y in zip(fa, fb, strict=True))
    assert worst < 0.5  # grey levels out of 255: the same pictures


def test_skip_slice_bits_are_stable(tmp_path):
    from renderer.holdskip import StreamParams, skip_frame

    params = StreamParams(3600, 9, 0, 10, True, True, False, True, 26, True, False, 4)
    a, b = skip_frame(params, 5, 10), skip_frame(params, 6, 12)
    assert a[4] == 0x41 and len(a) == len(b) and a != b  # same length, other frame_num and POC
    assert b"\x00\x00\x00" not in a[4:] and b"\x00\x00\x01" not in a[4:]  # emulation prevention


def test_lines_break_at_spaces_but_never_at_a_no_break_space():
    from renderer.text import Shaper, wrap

    shaper = Shaper(40)
    text = "Da pagare 128,48\u00a0€ entro il 1°\u202fdicembre"
    width = shaper.width("Da pagare 128,48")  # a line that would end between the amount and its currency
    lines = wrap(shaper, text, width + 1)
    assert "128,48\u00a0€" in "\n".join(lines) and not any(line.endswith("128,48") for line in lines), lines
    assert any("1°\u202fdicembre" in line for line in lines), lines
    assert [w for line in lines for w in line.split(" ")] == text.split(" ")  # the breaking spaces are where lines may end


@pytest.mark.parametrize("odd", [(1, 0), (0, 1), (1, 1)])
def test_a_sprite_at_an_odd_origin_lands_where_the_reference_frame_puts_it(tiny, tmp_path, odd):
    """ffmpeg's overlay rounds x and y down to even on 4:2:0 video: a sprite at an odd origin was drawn one pixel up
    or left of Pillow's frame (previews, posters, the live page). The held frame must match unshifted, and better
    than shifted by that pixel."""
    import dataclasses

    import av
    import numpy as np

    from renderer.encode import scene_command, sprite_placement
    from renderer.encode import run as run_ffmpeg
    from renderer.video import resolve_all

    rs = next(s for s in resolve_all(tiny, _ctx(tiny)) if not s.shared)

    def moved(s):  # the origin made odd (or even) in each axis as the case asks
        x, y = s.origin
        return dataclasses.replace(s, x=s.x + (odd[0] - x % 2) % 2, y=s.y + (odd[1] - y % 2) % 2)

    rs = dataclasses.replace(rs, sprites=tuple(moved(s) for s in rs.sprites))
    assert all((s.origin[0] % 2, s.origin[1] % 2) == odd for s in rs.sprites)
    assert all(sprite_placement(s)[0] % 2 == 0 and sprite_placement(s)[1] % 2 == 0 for s in rs.sprites)
    out = tmp_path / "name.mp4"
    run_ffmpeg(scene_command(rs, tmp_path, out, EncoderProfile(preset="veryfast", crf=4)), "test")
    held = rs.sprites[0].start + rs.sprites[0].enter_frames  # in, not yet leaving
    assert held < rs.sprites[0].end - rs.sprites[0].exit_frames
    with av.open(str(out)) as c:
        last = [f.to_ndarray(format="rgb24").astype(float) for f in c.decode(video=0)][held]
    ref = np.asarray(rs.frame(held)).astype(float)
    x0, y0, x1, y1 = rs.sprites[0].state(held).getbbox()  # where the sprite has pixels
    x0, y0 = x0 + rs.sprites[0].origin[0], y0 + rs.sprites[0].origin[1]
    x1, y1 = x1 + rs.sprites[0].origin[0], y1 + rs.sprites[0].origin[1]

    def err(dx, dy):  # the decoded frame read dx, dy pixels away from the reference, over the sprite
        return np.abs(last[y0 + dy:y1 + dy, x0 + dx:x1 + dx] - ref[y0:y1, x0:x1]).mean()

    here, there = err(0, 0), err(-odd[0], -odd[1])
    assert here < there / 2, (here, there)
