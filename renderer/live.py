"""Live mode: one shared base video per locale, and each customer's live stills drawn by the browser.

    template + locale ── base_scenes ──► render_base ──► shared/video/<hash>.mp4   (once per locale, variant,
                                                                                   rendition and played scenes)
    template + customer ── live_stills ──► c/<token>/o/<rendition>-<n>.png + timing  (no encode at all)

A layer is personal when its expressions read customer fields. Personal layers
leave the base video and become *live stills* (not to be confused with
:mod:`renderer.overlays`, which draws every layer's still); so does a shared
layer drawn above an overlapping personal one, to keep the stacking order. The
page's player (microsite/static/player.js) draws every live still with the
vocabulary of :mod:`renderer.animation` on the same frames, so a paused live
frame looks like the baked video's frame.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from tailorcast import expressions, keys
from tailorcast.errors import ExpressionError, RenderError
from tailorcast.spec.model import Layer, Scene, Template

from . import RENDERER_VERSION
from .animation import slide_distance
from .cache import SegmentCache
from .clip import file_digest
from .encode import join, profile_key
from .profiles import encoder_profile
from .scenes import ResolvedScene, layer_sprite, resolve_scene
from .video import audio_bed, scene_sounds, segment


@dataclass(frozen=True)
class LiveStill:
    """One personal still on the whole video's timeline, in frame pixels and frames."""

    name: str  # file name in the customer's o/ folder
    png: bytes
    x: int
    y: int
    width: int
    height: int
    start: int  # first frame shown
    end: int  # first frame no longer shown
    enter: str
    enter_frames: int
    exit: str
    exit_frames: int

    def as_json(self, url: str) -> dict:
        """What player.js reads (``src``: the still's URL relative to the page)."""
        return {"src": url, "x": self.x, "y": self.y, "width": self.width, "height": self.height, "start": self.start,
                "end": self.end, "enter": self.enter, "enterFrames": self.enter_frames, "exit": self.exit,
                "exitFrames": self.exit_frames}


def is_personal(layer: Layer) -> bool:
    return bool(layer.names - expressions.SHARED_NAMES)


def _overlaps(a: Layer, b: Layer, rendition: str) -> bool:
    al, at, ar, ab = a.box_for(rendition).fractions()
    bl, bt, br, bb = b.box_for(rendition).fractions()
    return al < br and bl < ar and at < bb and bt < ab


def split_layers(scene: Scene, rendition: str) -> tuple[tuple[Layer, ...], tuple[Layer, ...]]:
    """(layers of the base video, layers drawn as live stills) for one rendition."""
    base, over = [], []
    for layer in scene.layers:
        if is_personal(layer) or any(is_personal(o) and _overlaps(o, layer, rendition) for o in over):
            over.append(layer)
        else:
            base.append(layer)
    return tuple(base), tuple(over)


def base_scene(scene: Scene, rendition: str) -> Scene:
    """The scene without its live stills: the same for every customer of a locale and variant."""
    base, _ = split_layers(scene, rendition)
    names = frozenset(n for n in scene.names if n in expressions.SHARED_NAMES)
    # when, captions and title are the customer's business; the pixels are not
    return replace(scene, layers=base, when=None, say=(), title=None, names=names)


def base_scenes(template: Template, ctx: Mapping[str, Any], scene_ids: tuple[str, ...], rendition: str) -> list[ResolvedScene]:
    """The base scenes in play order, resolved with a locale context (no customer fields)."""
    pk = profile_key(encoder_profile(template.video), template.video.fps)
    out = []
    for sid in scene_ids:
        rs = resolve_scene(template, base_scene(template.scene(sid), rendition), ctx, pk, rendition)
        assert rs is not None  # a base scene has no when:
        out.append(rs)
    return out


def base_key(scenes: list[ResolvedScene], audio: Path) -> str:
    """Content address of a base video: its scenes' pixels and timing, and its audio track."""
    h = hashlib.sha256(f"live/v{RENDERER_VERSION}\0".encode())
    for rs in scenes:
        h.update(rs.key.encode() + b"\0")
    h.update(file_digest(str(audio)).encode())
    return h.hexdigest()[:32]


def render_base(template: Template, ctx: Mapping[str, Any], scene_ids: tuple[str, ...], rendition: str, cache: SegmentCache,
                threads: int = 2) -> tuple[str, Path]:
    """The base video of ``scene_ids`` (music and sound effects included): (content key, cached mp4)."""
    scenes = base_scenes(template, ctx, scene_ids, rendition)
    paths = [segment(rs, template, cache, threads)[0] for rs in scenes]
    frames = sum(rs.frames for rs in scenes)
    audio = audio_bed(template, frames / template.video.fps, cache, scene_sounds(scenes))
    key = base_key(scenes, audio)
    path, _ = cache.get_or_make("live", key, "mp4", lambda p: join(paths, audio, p, frames))
    return key, path


def live_stills(template: Template, ctx: Mapping[str, Any], rendition: str) -> list[LiveStill]:
    """One customer's live stills for ``rendition``, timed on their whole video."""
    v = template.video
    rend = v.rendition(rendition)
    ctx = {**ctx, "rendition": rend.name}
    out: list[LiveStill] = []
    offset = 0
    for scene in template.scenes:
        try:
            if scene.when and not expressions.evaluate_condition(scene.when, ctx):
                continue
            frames = round(scene.duration * v.fps)
            for layer in split_layers(scene, rend.name)[1]:
                if layer.when and not expressions.evaluate_condition(layer.when, ctx):
                    continue
                s = layer_sprite(template, layer, ctx, rend.name, frames)
                buf = io.BytesIO()
                s.image.save(buf, "PNG", optimize=True)
                out.append(LiveStill(keys.live_still_name(rend.name, len(out)), buf.getvalue(), s.x, s.y, s.image.width, s.image.height,
                                   offset + s.start, offset + s.end, s.enter.effect, s.enter_frames, s.exit.effect, s.exit_frames))
        except ExpressionError as exc:
            raise RenderError(f"scene '{scene.id}'", str(exc)) from exc
        offset += frames
    return out


def rendition_info(template: Template, ctx: Mapping[str, Any], rendition: str) -> dict:
    """What the player needs besides the live stills: frame size, fps, slide distance, direction."""
    r = template.video.rendition(rendition)
    return {"name": r.name, "width": r.width, "height": r.height, "orientation": r.orientation, "fps": template.video.fps,
            "slideDistance": slide_distance(min(r.width, r.height)), "rtl": ctx.get("dir") == "rtl"}
