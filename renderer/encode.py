"""Segments and the final mp4: one ffmpeg graph per scene, shared or personal (audio: renderer.audio).

Every segment is encoded with the same ``encoder_args`` (codec, preset, crf,
profile, pixel format, colour, GOP, timescale) and starts on a keyframe, so
segments join by stream copy. Pixels leave RGB through ``to_yuv`` only: BT.709
matrix, limited range, tagged in the stream, which is how browsers decode HD
video. The audio track is encoded once and muxed without re-encoding. Every
command is an argument list built by a pure function.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
from PIL import Image

from tailorcast.errors import RenderError
from .clip import clip_size, cover_box
from .profiles import EncoderProfile

from .scenes import ResolvedScene, Sprite

log = logging.getLogger("tailorcast.encode")


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


# BT.709 primaries, transfer and matrix, limited ("tv") range: untagged video is decoded as BT.709 by
# browsers, so an untagged BT.601 encode plays the brand colour wrong (#0B3D78 as rgb(6,59,118)).
COLOUR = "bt709"
COLOUR_RANGE = "tv"


def profile_key(profile: EncoderProfile, fps: int) -> str:
    """Everything about the encoder that segments must share to join by stream copy."""
    return f"x264:{profile.preset}:{profile.crf}:{profile.profile}:yuv420p:{COLOUR}-{COLOUR_RANGE}:g{_gop(fps)}:ts{fps * 512}"


def _gop(fps: int) -> int:
    return fps * 10


# How hard x264 looks for motion and partitions: superfast's search (diamond, one subpel refinement, no
# inter sub-partitions), used where a preset searches harder. These settings decide which macroblock
# types are picked, never the stream's layout (SPS, PPS, B-frames, references, slice header), so a
# segment made with them joins the others by stream copy (tests/test_shared_encode.py compares the
# parameter sets). On the bill-explainer's intro (120 moving clip frames) they cut x264's CPU by a
# third at the same SSIM and a slightly smaller file (bench/README.md, shared scenes).
QUICK_SEARCH = "me=dia:subme=1:partitions=i8x8,i4x4"
QUICK_SEARCH_SKIP = frozenset({"ultrafast", "superfast"})  # presets that search no harder than this already


def x264_params(profile: EncoderProfile, quick_search: bool = False) -> str:
    """The colour tags for the SPS, plus :data:`QUICK_SEARCH` when asked for and the preset searches harder."""
    params = f"colorprim={COLOUR}:transfer={COLOUR}:colormatrix={COLOUR}:range={COLOUR_RANGE}"
    if quick_search and profile.preset not in QUICK_SEARCH_SKIP:
        params += ":" + QUICK_SEARCH
    return params


def encoder_args(profile: EncoderProfile, fps: int, threads: int = 1, quick_search: bool = False) -> dict:
    """Output options for every video segment (ffmpeg-python keyword form); the colour tags go into the SPS.

    ``quick_search``: shared scenes (encoded once per locale, the run's fixed cost) search motion as
    superfast does, which keeps the stream's layout (:data:`QUICK_SEARCH`)."""
    return {
        "c:v": "libx264",
        "preset": profile.preset,
        "crf": profile.crf,
        "profile:v": profile.profile,
        "pix_fmt": "yuv420p",
        "x264-params": x264_params(profile, quick_search),
        "g": _gop(fps),
        "threads": threads,
        "video_track_timescale": fps * 512,
        "an": None,
        "f": "mp4",
    }


def to_yuv(stream, pix_fmt: str = "yuv420p"):
    """RGB(A) pixels to BT.709 limited-range YUV (the matrix the stream is tagged with)."""
    return stream.filter("scale", out_color_matrix=COLOUR, out_range=COLOUR_RANGE).filter("format", pix_fmt)


def run(args: list[str], stage: str, stdin: bytes | None = None) -> None:
    proc = subprocess.run(args, input=stdin, capture_output=True)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise RenderError(stage, f"ffmpeg exited with {proc.returncode}", "\n".join(tail))


# --- scenes: one ffmpeg filter graph each -----------------------------------------------------------


def _write_frames(path: Path, frames, pad: tuple[int, int] = (0, 0)) -> None:
    with path.open("wb") as fh:
        for img in frames:
            if pad != (0, 0):  # transparent columns on the left, rows on top
                padded = Image.new("RGBA", (img.width + pad[0], img.height + pad[1]), (0, 0, 0, 0))
                padded.paste(img, pad)
                img = padded
            fh.write(img.tobytes())


def sprite_placement(s: Sprite) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the sprite's input to ffmpeg's overlay filter.

    On 4:2:0 video the overlay filter rounds x and y down to even numbers (its chroma grid), so a sprite whose
    origin is odd would land one pixel up or left of where Pillow's frame (previews, posters, the live page)
    puts it. An odd origin is therefore made even by one transparent column or row in front of the sprite."""
    ox, oy = s.origin
    px, py = ox % 2, oy % 2
    return ox - px, oy - py, s.canvas.width + px, s.canvas.height + py


def _sprite_inputs(s: Sprite, work: Path, tag: str) -> list[tuple[Path, int, int, str]]:
    """Raw RGBA files for a sprite, placed as :func:`sprite_placement` says: (path, first frame, last frame
    inclusive, part)."""
    x, y, _, _ = sprite_placement(s)
    pad = (s.origin[0] - x, s.origin[1] - y)
    hold = s.state(s.start + s.enter_frames) if s.end - s.start > s.enter_frames else None
    parts = []
    enter = [s.state(s.start + k) for k in range(s.enter_frames)]
    a = work / f"{tag}-in.rgba"
    _write_frames(a, enter + ([hold] if hold is not None else []), pad)
    hold_end = s.end - s.exit_frames  # first frame of the exit
    parts.append((a, s.start, hold_end - 1, "in"))
    if s.exit_frames:
        b = work / f"{tag}-out.rgba"
        _write_frames(b, [s.state(f) for f in range(hold_end, s.end)], pad)
        parts.append((b, hold_end, s.end - 1, "out"))
    return parts


def scene_command(rs: ResolvedScene, work: Path, out: Path, profile: EncoderProfile, threads: int = 1, frames: int | None = None,
                  quick_search: bool | None = None) -> list[str]:
    """Write the scene's stills to ``work`` and return the ffmpeg command that encodes it (its first ``frames``).

    ``quick_search`` (:data:`QUICK_SEARCH`) defaults to whether the scene is shared."""
    fps, W, H = rs.fps, rs.width, rs.height
    bg_path = work / "background.rgb"
    bg_path.write_bytes(rs.background.tobytes())
    if rs.background_video:
        left, top, cw, ch = cover_box(*clip_size(rs.background_video), W, H)
        # one swscale pass sizes the cropped clip and converts it YUV to YUV, from its matrix (untagged:
        # BT.601, as previews read it) to BT.709 (two passes cost a fifth more and agree to within rounding)
        video = (
            ffmpeg.input(rs.background_video, stream_loop=-1, threads=threads)  # decoder threads: the same pixels
            .video.filter("crop", cw, ch, left, top, exact=1)
            .filter("scale", W, H, flags="bicubic", out_color_matrix=COLOUR, out_range=COLOUR_RANGE)
            .filter("format", "yuv420p")
            .filter("fps", fps)
            .filter("trim", end_frame=rs.frames)
            .filter("setpts", f"N/({fps}*TB)")
        )
        if rs.background.getbbox() is not None:  # static layers, painted on a transparent plate
            plate = to_yuv(ffmpeg.input(str(bg_path), f="rawvideo", pix_fmt="rgba", s=f"{W}x{H}", framerate=fps), "yuva420p")
            video = ffmpeg.overlay(video, plate, eof_action="repeat")
    else:
        video = (
            to_yuv(ffmpeg.input(str(bg_path), f="rawvideo", pix_fmt="rgb24", s=f"{W}x{H}", framerate=fps))
            .filter("loop", loop=rs.frames - 1, size=1, start=0)
            .filter("setpts", f"N/({fps}*TB)")
        )
    for i, s in enumerate(rs.sprites):
        ox, oy, sw, sh = sprite_placement(s)
        for path, first, last, _part in _sprite_inputs(s, work, f"sprite{i}"):
            if last < first:
                continue
            sprite = to_yuv(
                ffmpeg.input(str(path), f="rawvideo", pix_fmt="rgba", s=f"{sw}x{sh}", framerate=fps), "yuva420p"
            ).filter("setpts", f"PTS-STARTPTS+{first}/({fps}*TB)")
            video = ffmpeg.overlay(video, sprite, x=ox, y=oy, eof_action="repeat", enable=f"between(n,{first},{last})")
    stream = video.filter("format", "yuv420p").output(str(out), vframes=frames or rs.frames, **encoder_args(profile, fps, threads, rs.shared if quick_search is None else quick_search))
    exe, *args = stream.global_args("-nostdin", "-loglevel", "error").overwrite_output().compile(cmd=ffmpeg_exe())
    # the filters on as many threads as x264 (the same pixels; one thread: less CPU, Ray runs tasks side by side)
    return [exe, "-filter_complex_threads", str(threads), *args]


HELD_TAIL = 8  # held frames x264 still encodes, so its last mini-GOP shows only the held picture
MIN_SAVED = 15  # fewer appendable frames than this: encode the scene whole


def last_change(rs: ResolvedScene) -> int:
    """Index of the first frame from which the picture no longer changes (``frames`` if it never settles)."""
    if rs.background_video:
        return rs.frames
    last = 0
    for s in rs.sprites:
        last = max(last, s.start + s.enter_frames)
        if s.end < rs.frames or s.exit_frames:
            last = max(last, s.end)
    return min(last, rs.frames)


def encode_personal(rs: ResolvedScene, out: Path, profile: EncoderProfile, threads: int = 1) -> None:
    """One ffmpeg graph for the animated frames; held frames appended as skip frames (renderer.holdskip)."""
    from .holdskip import extend_with_held_frames

    encoded = last_change(rs) + HELD_TAIL
    with tempfile.TemporaryDirectory(prefix="tc-scene-") as tmp:
        work = Path(tmp)
        if rs.frames - encoded < MIN_SAVED:
            run(scene_command(rs, work, out, profile, threads), f"scene '{rs.id}'")
            return
        head = work / "head.mp4"
        run(scene_command(rs, work, head, profile, threads, frames=encoded), f"scene '{rs.id}'")
        try:
            extend_with_held_frames(head, out, rs.frames)
        except ValueError as exc:  # a stream layout the skip writer does not know: encode it all
            log.debug("scene %s: held frames encoded by x264 (%s)", rs.id, exc)
            run(scene_command(rs, work, out, profile, threads), f"scene '{rs.id}'")


# --- joining ------------------------------------------------------------------------------------------


def join_command(list_file: Path, audio: Path, out: Path) -> list[str]:
    """Concat segments by stream copy and mux the audio as is, moov atom first."""
    video = ffmpeg.input(str(list_file), f="concat", safe=0)
    sound = ffmpeg.input(str(audio))
    return (
        ffmpeg.output(video["v:0"], sound["a:0"], str(out), c="copy", movflags="+faststart", f="mp4")
        .global_args("-nostdin", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe())
    )


def join(segments: list[Path], audio: Path, out: Path, expected_frames: int) -> None:
    from .probe import probe

    with tempfile.TemporaryDirectory(prefix="tc-join-") as tmp:
        list_file = Path(tmp) / "segments.txt"
        # absolute paths: the concat demuxer resolves entries relative to the list file
        list_file.write_text("".join(f"file '{Path(p).resolve()}'\n" for p in segments))
        for p in segments:
            if not Path(p).is_file():
                raise RenderError("join", f"segment {p} is missing")
        run(join_command(list_file, audio, out), "join")
    info = probe(out)
    # the concat demuxer exits 0 with a short file when an entry cannot be opened: count frames
    if info.video_frames != expected_frames:
        raise RenderError("join", f"joined video has {info.video_frames} frames, expected {expected_frames}")
