"""Live mode: one shared base video per locale, and each customer's live stills drawn by the browser.

    template + locale ── base_scenes ──► render_base ──► shared/video/<hash>.mp4   (once per locale, variant,
                                                                                   rendition and played scenes)
    template + customer ── live_stills ──► pack_stills ──► c/<token>/o/<rendition>.webp (one sheet) + rectangles and timing
                                                                  (no video encode)
    template + customer ── live_timeline ──► chapters and captions, without drawing a pixel

With ``video.bake: false`` this is all a customer costs: no per-customer video at all.

A layer is personal when its expressions read customer fields. Personal layers
leave the base video and become *live stills* (not to be confused with
:mod:`renderer.overlays`, which draws every layer's still); so does a shared
layer drawn above an overlapping personal one, to keep the stacking order. The
page's player (microsite/static/player.js) draws every live still with the
vocabulary of :mod:`renderer.animation` on the same frames, so a paused live
frame looks like the baked video's frame.

A customer's live stills of one rendition are published as one image, a *sheet*
(:func:`live_sheets`): one upload and one request instead of one per still. The
drawn part of each still (its pixels that are not clear: a lossless encode costs
about the same for every pixel) sits in it at integer offsets with clear padding
around it, and the page's data gives the player every still's rectangle in its
sheet; the player copies it one for one into a canvas in the still's box.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from dataclasses import dataclass, field, replace
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

SHEET_FORMAT = {"format": "WEBP", "lossless": True, "method": 1, "quality": 0}  # exact pixels; fast (method 0: 8 times the bytes)
SHEET_WIDTH = 2048  # a sheet's widest shelf (at most the frame's width), unless one still is wider
SHEET_SIDE = 16383  # WebP's largest side: a sheet that would be taller starts another sheet
# clear pixels between stills, and offsets that are multiples of it. player.js copies a still's rectangle one for one
# (no resampling), so no neighbour can reach it there; the padding keeps it so for anything that scales the sheet as
# a whole, down to a quarter (no 2×2 or 4×4 mipmap block holds pixels of two stills)
SHEET_PAD = 4


@dataclass(frozen=True)
class LiveStill:
    """One personal still on the whole video's timeline, in frame pixels and frames, and where its pixels are.

    Only its drawn part (``drawn``: the box of its pixels that are not transparent) goes into a sheet, at
    (``sx``, ``sy``) of sheet number ``sheet``: a lossless encode costs about the same for every pixel, clear or not.
    """

    image: Image.Image = field(repr=False, compare=False)  # the still as drawn alone (RGBA)
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
    drawn: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height of its drawn part, in the still
    sheet: int = 0  # its sheet (pack_stills)
    sx: int = 0  # the drawn part's top-left corner in the sheet
    sy: int = 0

    def as_json(self) -> dict:
        """What player.js reads of a still: its box and timing, its drawn part (``c``: left, top, width, height in the
        still) and where that part is (``sheet``, ``sx``, ``sy``)."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height, "c": list(self.drawn), "sheet": self.sheet,
                "sx": self.sx, "sy": self.sy, "start": self.start, "end": self.end, "enter": self.enter,
                "enterFrames": self.enter_frames, "exit": self.exit, "exitFrames": self.exit_frames}


@dataclass(frozen=True)
class Sheet:
    """One image of a rendition's live stills: its file name in the customer's o/ folder, size and lossless WebP bytes."""

    name: str
    width: int
    height: int
    data: bytes = field(repr=False)

    def as_json(self, url: str) -> dict:
        """What player.js reads of a sheet (``src``: its URL relative to the page)."""
        return {"src": url, "width": self.width, "height": self.height}


def _shelves(sizes: list[tuple[int, int]], width: int, side: int, pad: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """First-fit decreasing height on shelves ``width`` wide: see :func:`pack`."""
    def up(v: int) -> int:
        return -(-v // pad) * pad

    places: list[tuple[int, int, int]] = [(0, 0, 0)] * len(sizes)
    sheets: list[tuple[int, int]] = []
    shelves: list[list[int]] = []  # of the sheet being filled: [y, height, next free x]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i][1], -sizes[i][0], i)):
        w, h = sizes[i]
        shelf = next((s for s in shelves if s[2] + w <= width), None)  # every shelf is as tall as this one, or taller
        if shelf is None:
            y = up(shelves[-1][0] + shelves[-1][1] + pad) if shelves else 0
            if shelves and y + h > side:  # next sheet
                sheets.append((0, 0))
                shelves, y = [], 0
            shelf = [y, h, 0]
            shelves.append(shelf)
        places[i] = (len(sheets), shelf[2], shelf[0])
        shelf[2] = up(shelf[2] + w + pad)
    sheets.append((0, 0))
    for (n, x, y), (w, h) in zip(places, sizes, strict=True):
        sheets[n] = (max(sheets[n][0], x + w), max(sheets[n][1], y + h))
    return places, sheets


def pack(sizes: list[tuple[int, int]], width: int = SHEET_WIDTH, side: int = SHEET_SIDE,
         pad: int = SHEET_PAD) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """Shelf packing of rectangles ``(w, h)``: (each one's (sheet, x, y), each sheet's (width, height)).

    Tallest first, each on the first shelf with room for it, shelves at most ``width`` wide (or as wide as the
    widest rectangle): of eight widths from the widest rectangle's to ``width``, the one with the fewest pixels.
    Offsets are multiples of ``pad`` and at least ``pad`` pixels lie between two rectangles; a shelf that would
    take a sheet past ``side`` pixels starts the next sheet.
    """
    if not sizes:
        return [], []
    widest = max(w for w, _ in sizes)
    if widest > side or any(h > side for _, h in sizes):
        raise RenderError("live stills", f"a still is larger than a sheet's {side} pixels")
    width = min(max(width, widest), side)
    tries = [_shelves(sizes, widest + (width - widest) * k // 7, side, pad) for k in range(8)]
    return min(tries, key=lambda t: (sum(w * h for w, h in t[1]), len(t[1])))


def pack_stills(stills: list[LiveStill], rendition: str, width: int = SHEET_WIDTH, side: int = SHEET_SIDE) -> tuple[list[LiveStill], list[Sheet]]:
    """``stills`` placed in sheets (a still with no pixel is left out), and the sheets drawn and encoded: one image
    unless it would be taller than ``side``."""
    stills = [o for o in stills if o.drawn[2] and o.drawn[3]]
    places, sizes = pack([o.drawn[2:] for o in stills], width, side)
    canvases = [Image.new("RGBA", size, (0, 0, 0, 0)) for size in sizes]
    for o, (n, sx, sy) in zip(stills, places, strict=True):
        left, top, w, h = o.drawn
        part = o.image.crop((left, top, left + w, top + h))
        canvases[n].paste(part if part.mode == "RGBA" else part.convert("RGBA"), (sx, sy))
    sheets = []
    for n, img in enumerate(canvases):
        buf = io.BytesIO()
        img.save(buf, **SHEET_FORMAT)
        sheets.append(Sheet(keys.live_sheet_name(rendition, n), img.width, img.height, buf.getvalue()))
    return [replace(o, sheet=n, sx=sx, sy=sy) for o, (n, sx, sy) in zip(stills, places, strict=True)], sheets


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
    """Stills and the box of their drawn pixels by what they are drawn from (type, size, resolved style and
    parameters), per worker process.

    A still that does not depend on the customer (a shared layer above a personal one) or that two
    renditions share is drawn once; the bound keeps a worker's memory flat.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.stills: OrderedDict[str, Image.Image] = OrderedDict()
        self.drawn: dict[int, tuple[int, int, int, int]] = {}  # id of a still in ``stills`` → its drawn part

    def draw(self, li: LayerInput) -> Image.Image:
        k = repr((li.type, li.width, li.height, li.frame_short_side, sorted(li.style.items()), sorted(li.params.items()),
                  li.direction, sorted(li.brand.items())))
        img = self.stills.get(k)
        if img is not None:
            self.stills.move_to_end(k)
            return img
        img = render_layer(li)
        box = img.getbbox() if img.mode == "RGBA" else (0, 0, img.width, img.height)  # its pixels that are not wholly clear
        self.stills[k], self.drawn[id(img)] = img, (box[0], box[1], box[2] - box[0], box[3] - box[1]) if box else (0, 0, 0, 0)
        if len(self.stills) > self.size:
            self.drawn.pop(id(self.stills.popitem(last=False)[1]))
        return img

    def drawn_part(self, img: Image.Image) -> tuple[int, int, int, int]:
        """Left, top, width and height of the drawn pixels of a still :meth:`draw` just returned."""
        return self.drawn[id(img)]


_STILLS = _StillMemo()


def live_stills(template: Template, ctx: Mapping[str, Any], rendition: str) -> list[LiveStill]:
    """One customer's live stills for ``rendition``, timed on their whole video (not placed in a sheet yet)."""
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
                out.append(LiveStill(s.image, s.x, s.y, s.image.width, s.image.height, offset + s.start, offset + s.end,
                                     s.enter.effect, s.enter_frames, s.exit.effect, s.exit_frames, _STILLS.drawn_part(s.image)))
        except ExpressionError as exc:
            raise RenderError(f"scene '{scene.id}'", str(exc)) from exc
        offset += frames
    return out


def live_sheets(template: Template, ctx: Mapping[str, Any], rendition: str) -> tuple[list[LiveStill], list[Sheet]]:
    """One customer's live stills for ``rendition``, placed in their sheets, and the sheets (none without a still).

    A sheet is at most as wide as the frame (and :data:`SHEET_WIDTH`): one image per rendition for any real template.
    """
    rend = template.video.rendition(rendition)
    return pack_stills(live_stills(template, ctx, rendition), rend.name, min(rend.width, SHEET_WIDTH))


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
