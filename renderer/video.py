"""One customer's video: resolve scenes, reuse or encode segments, join, mux, poster, captions.

``render_video(template, ctx, out_dir, cache)`` is the stage's one public
function. Shared scenes (nothing personal in them) come from the segment cache;
personal scenes are composited from Pillow stills by one ffmpeg graph each.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from tailorcast.expressions import evaluate_text
from tailorcast.spec.model import Template

from . import RENDERER_VERSION
from .cache import PERSONAL, SegmentCache
from .captions import Cue, cues_for, to_webvtt
from .clip import file_digest
from .audio import encode_music, silence_command
from .encode import encode_personal, join, profile_key, run
from .profiles import encoder_profile
from .scenes import ResolvedScene, resolve_scene


@dataclass(frozen=True)
class Timeline:
    """Where each played scene starts, for chapters and captions."""

    scenes: tuple[tuple[str, float, float, str], ...]  # (id, start, end, title)


@dataclass
class VideoResult:
    video: Path
    poster: Path
    captions: str  # WebVTT text
    cues: list[Cue]
    timeline: Timeline
    duration: float
    frames: int
    segments: list[tuple[str, bool, bool]] = field(default_factory=list)  # (scene id, shared, cache hit)
    seconds: dict[str, float] = field(default_factory=dict)  # stills / encode / join


def resolve_all(template: Template, ctx: Mapping[str, Any], rendition: str | None = None) -> list[ResolvedScene]:
    pk = profile_key(encoder_profile(template.video), template.video.fps)
    out = []
    for scene in template.scenes:
        rs = resolve_scene(template, scene, ctx, pk, rendition)
        if rs is not None:
            out.append(rs)
    return out


def segment(rs: ResolvedScene, template: Template, cache: SegmentCache, threads: int = 1) -> tuple[Path, bool]:
    """The scene's encoded segment, from the cache or made now.

    Every scene, shared or personal, over a colour, an image or a video clip, goes through one
    ffmpeg graph (renderer.encode.scene_command); held frames are appended as skip frames.
    """
    prof = encoder_profile(template.video)
    return cache.get_or_make("segments" if rs.shared else PERSONAL, rs.key, "mp4", lambda p: encode_personal(rs, p, prof, threads))


def audio_bed(template: Template, duration: float, cache: SegmentCache, sounds: tuple = ()) -> Path:
    """The audio track, encoded once per distinct (music, duration, sound effects) and cached."""
    v = template.video
    bitrate = encoder_profile(v).audio_bitrate
    h = hashlib.sha256(f"audio/v{RENDERER_VERSION}/{duration:.6f}/{bitrate}".encode())
    for path, start, volume in sounds:
        h.update(f"/{start:.4f}/{volume}/{file_digest(str(path))}".encode())
    if v.music or sounds:
        if v.music:
            h.update(f"{v.music.volume}/{v.music.fade_in}/{v.music.fade_out}/{file_digest(str(v.music.path))}".encode())
        make = lambda p: encode_music(v.music, duration, p, bitrate, sounds)  # noqa: E731
    else:
        make = lambda p: run(silence_command(duration, p, bitrate), "audio")  # noqa: E731
    path, _ = cache.get_or_make("audio", h.hexdigest(), "m4a", make)
    return path


def scene_sounds(scenes: list[ResolvedScene]) -> tuple:
    """(path, start in the video, volume) of every sound effect of the scenes that play."""
    out, t = [], 0.0
    for rs in scenes:
        for snd in rs.scene.sounds:
            if snd.at < rs.duration:
                out.append((snd.path, round(t + snd.at, 4), snd.volume))
        t += rs.duration
    return tuple(out)


def poster_frame(template: Template, scenes: list[ResolvedScene]) -> tuple[ResolvedScene, int]:
    v = template.video
    chosen = next((s for s in scenes if s.id == v.poster_scene), None) or next((s for s in scenes if not s.shared), scenes[0])
    at = v.poster_at if v.poster_at is not None else chosen.duration * 0.75
    return chosen, min(round(at * chosen.fps), chosen.frames - 1)


def render_video(template: Template, ctx: Mapping[str, Any], out_dir: Path, cache: SegmentCache, threads: int = 1, rendition: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> VideoResult:
    """``out_dir/video.mp4`` and ``out_dir/poster.jpg`` for one customer and one rendition.

    ``progress(frames done, frames in all)`` is told once the scenes are resolved and after each segment
    (from the cache or encoded), so a caller can show how far the encode got (the studio's preview)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scenes = resolve_all(template, ctx, rendition)
    t1 = time.perf_counter()
    frames = sum(s.frames for s in scenes)
    paths, segs, done = [], [], 0
    if progress:
        progress(0, frames)
    for rs in scenes:
        path, hit = segment(rs, template, cache, threads)
        paths.append(path)
        segs.append((rs.id, rs.shared, hit))
        done += rs.frames
        if progress:
            progress(done, frames)
    t2 = time.perf_counter()
    duration = frames / template.video.fps
    audio = audio_bed(template, duration, cache, scene_sounds(scenes))
    video = out_dir / "video.mp4"
    join(paths, audio, video, frames)
    t3 = time.perf_counter()
    scene, n = poster_frame(template, scenes)
    poster = out_dir / "poster.jpg"
    scene.frame(n).save(poster, "JPEG", quality=82, optimize=True, progressive=True)
    cues = cues_for(scenes)
    starts, t = [], 0.0
    for rs in scenes:
        title = evaluate_text(rs.scene.title, ctx).strip() if rs.scene.title else rs.id
        starts.append((rs.id, round(t, 3), round(t + rs.duration, 3), title))
        t += rs.duration
    return VideoResult(
        video=video,
        poster=poster,
        captions=to_webvtt(cues, ctx.get("lang", "en")),
        cues=cues,
        timeline=Timeline(tuple(starts)),
        duration=duration,
        frames=frames,
        segments=segs,
        seconds={"stills": t1 - t0, "encode": t2 - t1, "join": t3 - t2, "poster": time.perf_counter() - t3},
    )
