"""Live mode: one shared base video per locale, and each customer's live stills drawn by the browser.

    template + locale ── base_scenes ──► render_base ──► shared/video/<hash>.mp4   (once per locale, variant,
                                                                                   rendition and played scenes)
    template + customer ── live_stills ──► c/<token>/o/<rendition>-<n>.webp + timing (no video encode)
    template + customer ── live_timeline ──► chapters and captions, without drawing a pixel

With ``video.bake: false`` this is all a customer costs: no per-customer video at all.

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
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

from tailorcast import expressions, keys
from tailorcast.errors import ExpressionError, RenderError
from tailorcast.spec.model import Layer, Scene, Template

from . import RENDERER_VERSION
from .animation import slide_distance
from .cache import SegmentCache
from .captions import Cue, cues_for
from .clip import file_digest
from .encode import join, profile_key
from .overlays import LayerInput, render_layer
from .profiles import encoder_profile
from .scenes import ResolvedScene, layer_sprite, resolve_scene
from .video import Timeline, audio_bed, scene_sounds, segment

STILL_FORMAT = {"format": "WEBP", "lossless": True, "method": 1, "quality": 0}  # exact pixels; fast; a third of PNG's bytes


@dataclass(frozen=True)
class LiveStill:
    """One personal still on the whole video's timeline, in frame pixels and frames."""

    name: str  # file name in the customer's o/ folder
    data: bytes  # lossless WebP
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
    """The base video of ``scene_ids`` (music and sound effects included): (content key, cached mp4).

    Its poster (the first frame, which the live stills do not cover yet) is cached next to it: :func:`base_poster`.
    """
    scenes = base_scenes(template, ctx, scene_ids, rendition)
    paths = [segment(rs, template, cache, threads)[0] for rs in scenes]
    frames = sum(rs.frames for rs in scenes)
    audio = audio_bed(template, frames / template.video.fps, cache, scene_sounds(scenes))
    key = base_key(scenes, audio)
    path, _ = cache.get_or_make("live", key, "mp4", lambda p: join(paths, audio, p, frames))
    cache.get_or_make("live", key, "jpg", lambda p: scenes[0].frame(0).save(p, "JPEG", quality=82, optimize=True, progressive=True))
    return key, path


def base_poster(cache: SegmentCache, key: str) -> Path:
    """The poster of the base video ``key``, made by :func:`render_base`."""
    path = cache.get("live", key, "jpg")
    if path is None:
        raise RenderError("base video", f"the poster of base video {key} is not in the cache; render the base video first")
    return path


class _StillMemo:
    """Stills and their encoded bytes by what they are drawn from (type, size, resolved style and parameters),
    per worker process.

    A still that does not depend on the customer (a shared layer above a personal one) or that two
    renditions share is drawn and encoded once; the bound keeps a worker's memory flat.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.stills: OrderedDict[str, Image.Image] = OrderedDict()
        self.data: dict[int, bytes] = {}  # id of a still in ``stills`` → its encoded bytes

    def draw(self, li: LayerInput) -> Image.Image:
        k = repr((li.type, li.width, li.height, li.frame_short_side, sorted(li.style.items()), sorted(li.params.items()),
                  li.direction, sorted(li.brand.items())))
        img = self.stills.get(k)
        if img is not None:
            self.stills.move_to_end(k)
            return img
        img = render_layer(li)
        buf = io.BytesIO()
        img.save(buf, **STILL_FORMAT)
        self.stills[k], self.data[id(img)] = img, buf.getvalue()
        if len(self.stills) > self.size:
            self.data.pop(id(self.stills.popitem(last=False)[1]))
        return img

    def encoded(self, img: Image.Image) -> bytes:
        """The bytes of a still :meth:`draw` just returned."""
        return self.data[id(img)]


_STILLS = _StillMemo()


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
                s = layer_sprite(template, layer, ctx, rend.name, frames, draw=_STILLS.draw)
                out.append(LiveStill(keys.live_still_name(rend.name, len(out)), _STILLS.encoded(s.image), s.x, s.y, s.image.width,
                                     s.image.height, offset + s.start, offset + s.end, s.enter.effect, s.enter_frames, s.exit.effect,
                                     s.exit_frames))
        except ExpressionError as exc:
            raise RenderError(f"scene '{scene.id}'", str(exc)) from exc
        offset += frames
    return out


@dataclass(frozen=True)
class _Said:
    """What captions need of a played scene: its id, length and lines (renderer.captions.cues_for)."""

    id: str
    duration: float
    captions: tuple[str, ...]


def live_timeline(template: Template, ctx: Mapping[str, Any], rendition: str | None = None) -> tuple[Timeline, list[Cue]]:
    """Chapters and captions of the customer's video, as :func:`renderer.video.render_video` makes them, without pixels."""
    v = template.video
    ctx = {**ctx, "rendition": v.rendition(rendition).name}
    said, starts, t = [], [], 0.0
    for scene in template.scenes:
        try:
            if scene.when and not expressions.evaluate_condition(scene.when, ctx):
                continue
            duration = round(scene.duration * v.fps) / v.fps
            lines = tuple(expressions.evaluate_text(line, ctx).strip() for line in scene.say)
            title = expressions.evaluate_text(scene.title, ctx).strip() if scene.title else scene.id
        except ExpressionError as exc:
            raise RenderError(f"scene '{scene.id}'", str(exc)) from exc
        said.append(_Said(scene.id, duration, lines))
        starts.append((scene.id, round(t, 3), round(t + duration, 3), title))
        t += duration
    return Timeline(tuple(starts)), cues_for(said)


def rendition_info(template: Template, ctx: Mapping[str, Any], rendition: str) -> dict:
    """What the player needs besides the live stills: frame size, fps, slide distance, direction."""
    r = template.video.rendition(rendition)
    return {"name": r.name, "width": r.width, "height": r.height, "orientation": r.orientation, "fps": template.video.fps,
            "slideDistance": slide_distance(min(r.width, r.height)), "rtl": ctx.get("dir") == "rtl"}
