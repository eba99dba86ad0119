"""Shared scenes, the run's fixed cost per locale: a quicker x264 search that keeps the stream joinable and the picture."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.pictures import ssim
from helpers.runs import ffmpeg_decode_errors
from helpers.tiny import TINY, write_tiny
from renderer.cache import SegmentCache
from renderer.encode import QUICK_SEARCH, encoder_args, scene_command, x264_params
from renderer.profiles import EncoderProfile
from renderer.probe import probe

CLIP = "  - id: hello\n    duration: 0.6\n    background: {video: assets:brand/bg-loop.mp4}\n"
VERYFAST = "profile: {preset: veryfast, crf: 12}"


def _tiny_clip(tmp_path):
    """The tiny template with its shared scene over the brand's clip, encoded at veryfast (a preset quick search changes)."""
    from tailorcast.spec.load import load_template

    yaml = TINY.replace("  - id: hello\n    duration: 0.6\n", CLIP).replace("profile: {preset: ultrafast, crf: 30}", VERYFAST)
    assert CLIP in yaml and VERYFAST in yaml
    return load_template(write_tiny(tmp_path / "clip", yaml))


def _ctx(tpl):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    return customer_context(tpl, validate_row(tpl, 2, {"customer_id": "C1", "locale": "en", "first_name": "Ann"}))


def _decoded(path):
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return bytes(stream.codec_context.extradata), [f.to_ndarray(format="rgb24") for f in c.decode(stream)]


def test_quick_search_only_where_asked_and_never_slower_than_the_preset():
    veryfast, medium, ultrafast = EncoderProfile(), EncoderProfile(preset="medium"), EncoderProfile(preset="ultrafast")
    assert QUICK_SEARCH in x264_params(veryfast, quick_search=True) and QUICK_SEARCH in x264_params(medium, quick_search=True)
    assert QUICK_SEARCH not in x264_params(veryfast)  # personal scenes: the preset as it is
    for preset in ("superfast", "ultrafast"):  # already searching this little: nothing to add
        assert x264_params(EncoderProfile(preset=preset), quick_search=True) == x264_params(EncoderProfile(preset=preset))
    for args in (encoder_args(veryfast, 30, quick_search=True), encoder_args(ultrafast, 30, quick_search=True)):
        assert "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv" in args["x264-params"]


def test_a_clip_scene_is_sized_and_converted_in_one_pass_on_the_threads_asked_for(tmp_path):
    from renderer.video import resolve_all

    tpl = _tiny_clip(tmp_path)
    shared, personal = resolve_all(tpl, _ctx(tpl), "wide")
    args = scene_command(shared, tmp_path, tmp_path / "o.mp4", EncoderProfile(), threads=1)
    clip = args.index(shared.background_video)
    assert args[args.index("-threads") + 1] == "1" and args.index("-threads") < clip  # the clip's decoder
    assert args[1:3] == ["-filter_complex_threads", "1"]  # a global option, before any input
    graph = args[args.index("-filter_complex") + 1]
    clip_chain = graph.split(";")[:2]  # crop, then the one scaler
    assert clip_chain[0].startswith("[0:v]crop=") and "scale=96:64:flags=bicubic:out_color_matrix=bt709:out_range=tv" in clip_chain[1]
    assert QUICK_SEARCH in args[args.index("-x264-params") + 1]
    args = scene_command(personal, tmp_path, tmp_path / "p.mp4", EncoderProfile(), threads=2)
    assert args[1:3] == ["-filter_complex_threads", "2"] and QUICK_SEARCH not in args[args.index("-x264-params") + 1]


def test_a_shared_clip_segment_joins_personal_ones_by_stream_copy_and_shows_the_reference(tmp_path):
    """Quick search leaves SPS and PPS as the personal scenes' (the join copies one set for all), and the pixels close."""
    from renderer.encode import encode_personal
    from renderer.video import render_video, resolve_all

    tpl = _tiny_clip(tmp_path)
    for rendition in ("wide", "tall"):
        shared, personal = resolve_all(tpl, _ctx(tpl), rendition)
        assert shared.shared and shared.background_video and not personal.shared
        a, b = tmp_path / f"shared-{rendition}.mp4", tmp_path / f"personal-{rendition}.mp4"
        encode_personal(shared, a, EncoderProfile(preset="veryfast", crf=12))
        encode_personal(personal, b, EncoderProfile(preset="veryfast", crf=12))
        (sps_pps, frames), (personal_sps_pps, _) = _decoded(a), _decoded(b)
        assert sps_pps == personal_sps_pps
        assert len(frames) == shared.frames and frames[0].shape == (shared.height, shared.width, 3)
        for n in range(shared.frames):
            assert np.abs(frames[n].astype(float) - np.asarray(shared.frame(n)).astype(float)).mean() < 8, (rendition, n)
        res = render_video(tpl, _ctx(tpl), tmp_path / rendition, SegmentCache(tmp_path / "cache"), rendition=rendition)
        info = probe(res.video)
        assert info.video_frames == res.frames == shared.frames + personal.frames
        assert (info.width, info.height) == (shared.width, shared.height)
        assert ffmpeg_decode_errors(res.video) == ""


@pytest.mark.e2e  # the bill-explainer's intro at 1280x720 (120 clip frames) encoded twice and compared with Pillow's frames: ~10 s
def test_quick_search_keeps_the_intro_as_close_to_the_reference_as_the_full_search(template, tmp_path):
    import av

    from renderer.encode import profile_key, run
    from renderer.profiles import encoder_profile
    from renderer.scenes import resolve_scene
    from tailorcast.context import locale_context

    profile = encoder_profile(template.video)
    intro = resolve_scene(template, template.scenes[0], locale_context(template, "it", "it", None), profile_key(profile, template.video.fps), "landscape")
    assert intro.id == "intro" and intro.shared and intro.background_video
    scores, sizes = {}, {}
    for quick in (False, True):
        out = tmp_path / f"intro-{quick}.mp4"
        run(scene_command(intro, tmp_path, out, profile, quick_search=quick), "intro")
        with av.open(str(out)) as c:
            frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
        assert len(frames) == intro.frames
        scores[quick] = [ssim(frames[n], np.asarray(intro.frame(n).convert("L"))) for n in (0, 10, 20, 40, 80, 119)]
        sizes[quick] = out.stat().st_size
    assert min(scores[True]) >= 0.97
    assert np.mean(scores[True]) >= np.mean(scores[False]) - 0.002, scores  # no visible loss against the full search
    assert sizes[True] <= sizes[False] * 1.1, sizes  # and no more bytes for every viewer to fetch
