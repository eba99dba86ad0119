"""A scene resolved for one customer (or one locale): a background still plus timed sprites.

Layers that are visible for the whole scene and never animate are painted into
the background still; the others become sprites with their own timing. The
scene's key hashes every pixel and timing that reaches the video, so equal
keys mean equal segments (that is what makes shared scenes shared).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from PIL import Image

from tailorcast import expressions
from tailorcast.errors import RenderError
from tailorcast.formatting import month_labels
from tailorcast.spec.model import NO_ANIMATION, Animation, Layer, Scene, Template

from . import RENDERER_VERSION
from .animation import Canvas, appearance, canvas_for
from .clip import clip_frame, file_digest
from .overlays import LayerInput, paint_background, render_layer
from .text import fonts_digest


@dataclass(frozen=True, eq=False)
class Sprite:
    layer: int
    image: Image.Image  # RGBA, the still in place
    x: int
    y: int
    start: int  # first frame shown
    end: int  # first frame no longer shown
    enter: Animation
    exit: Animation
    enter_frames: int
    exit_frames: int
    canvas: Canvas
    short_side: int
    rtl: bool

    def state(self, frame: int) -> Image.Image | None:
        """The sprite's canvas at ``frame`` (scene-relative), or None when not shown."""
        if frame < self.start or frame >= self.end:
            return None
        k = frame - self.start
        if self.enter_frames and k < self.enter_frames:
            return appearance(self.image, self.enter.effect, k / self.enter_frames, self.canvas, self.short_side, self.rtl)
        left = self.end - frame  # frames left, ≥ 1
        if self.exit_frames and left <= self.exit_frames:
            return appearance(self.image, self.exit.effect, (left - 1) / self.exit_frames, self.canvas, self.short_side, self.rtl)
        return appearance(self.image, "none", 1.0, self.canvas, self.short_side, self.rtl)

    @property
    def origin(self) -> tuple[int, int]:
        return self.x - self.canvas.ox, self.y - self.canvas.oy


@dataclass(frozen=True, eq=False)
class ResolvedScene:
    scene: Scene
    width: int
    height: int
    fps: int
    frames: int
    background: Image.Image  # RGB with the static layers painted in; RGBA (the "plate") over a video
    sprites: tuple[Sprite, ...]
    captions: tuple[str, ...]
    key: str
    background_video: str | None = None  # a looping clip under everything

    @property
    def id(self) -> str:
        return self.scene.id

    @property
    def shared(self) -> bool:
        return self.scene.shared

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def frame(self, n: int) -> Image.Image:
        """The finished frame ``n`` as RGB (poster, previews, reference renders)."""
        if self.background_video:
            img = clip_frame(self.background_video, n, self.width, self.height).convert("RGBA")
            img.alpha_composite(self.background)
        else:
            img = self.background.convert("RGBA")
        for s in self.sprites:
            st = s.state(n)
            if st is not None:
                img.alpha_composite(st, s.origin)
        return img.convert("RGB")


def _resolved_style(style: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict:
    style = dict(style)
    for key in ("color", "fill"):
        if key in style:
            style[key] = expressions.evaluate_text(str(style[key]), ctx).strip()
    return style


def _resolved_params(template: Template, layer: Layer, ctx: Mapping[str, Any]) -> dict:
    p = dict(layer.params)
    for key in ("text", "data"):
        if key in p:
            p[key] = expressions.evaluate_text(p[key], ctx)
    if layer.type == "chart":
        p["values"] = tuple(ctx[p["values"]] or ())
        if p.get("labels", "months") == "months":
            last = ctx.get(p.get("last_month", ""))
            p["labels"] = tuple(month_labels(last, len(p["values"]), ctx["locale"])) if last else ()
        else:
            p["labels"] = ()
    return p


_MIRROR = {"slide-left": "slide-right", "slide-right": "slide-left"}


def _mirrored(anim: Animation) -> Animation:
    return Animation(_MIRROR.get(anim.effect, anim.effect), anim.duration)


def layer_sprite(template: Template, layer: Layer, ctx: Mapping[str, Any], rendition: str, frames: int,
                 draw: Callable[[LayerInput], Image.Image] = render_layer) -> Sprite:
    """One layer of a scene ``frames`` long, drawn for ``ctx`` (which holds ``rendition``) by ``draw`` as a timed still.

    Raises ExpressionError for a bad expression; the caller names the scene.
    """
    v = template.video
    rend = v.rendition(rendition)
    W, H, fps = rend.width, rend.height, v.fps
    short = min(W, H)
    rtl = ctx.get("dir") == "rtl"
    flip = rtl and layer.mirror
    x, y, w, h = layer.box_for(rend.name, rtl).rect(W, H)
    li = LayerInput(layer.type, w, h, short, _resolved_style(layer.style_for(rend.name), ctx), _resolved_params(template, layer, ctx), ctx.get("dir", "ltr"), ctx.get("brand", {}))
    still = draw(li)
    start = round(layer.start * fps)
    end = round(layer.end * fps) if layer.end is not None else frames
    enter = (_mirrored(layer.enter) if flip else layer.enter) if layer.enter.effect != "none" else NO_ANIMATION
    exit_ = (_mirrored(layer.exit) if flip else layer.exit) if layer.exit.effect != "none" else NO_ANIMATION
    canvas = canvas_for((enter.effect, exit_.effect), w, h, short)
    return Sprite(layer.index, still, x, y, start, end, enter, exit_, round(enter.duration * fps), round(exit_.duration * fps), canvas, short, rtl)


def played_scenes(template: Template, ctx: Mapping[str, Any], rendition: str | None = None) -> tuple[str, ...]:
    """Ids of the scenes a customer's video plays in ``rendition`` (their ``when:`` is true), in order.

    ExpressionError when a ``when:`` cannot be evaluated for this context.
    """
    ctx = {**ctx, "rendition": template.video.rendition(rendition).name}
    return tuple(s.id for s in template.scenes if not s.when or expressions.evaluate_condition(s.when, ctx))


def resolve_scene(template: Template, scene: Scene, ctx: Mapping[str, Any], profile_key: str = "", rendition: str | None = None) -> ResolvedScene | None:
    """Evaluate a scene for one context and rendition; None when its ``when:`` is false."""
    v = template.video
    rend = v.rendition(rendition)
    W, H, fps = rend.width, rend.height, v.fps
    ctx = {**ctx, "rendition": rend.name}
    try:
        if scene.when and not expressions.evaluate_condition(scene.when, ctx):
            return None
        frames = round(scene.duration * fps)
        bg_spec = dict(scene.background)
        if "color" in bg_spec:
            bg_spec["color"] = expressions.evaluate_text(bg_spec["color"], ctx).strip()
        video_bg = str(bg_spec["video_path"]) if bg_spec.get("video_path") else None
        background = Image.new("RGBA", (W, H), (0, 0, 0, 0)) if video_bg else paint_background(W, H, bg_spec).convert("RGBA")
        sprites = []
        for layer in scene.layers:
            if layer.when and not expressions.evaluate_condition(layer.when, ctx):
                continue
            sprite = layer_sprite(template, layer, ctx, rend.name, frames)
            if sprite.start == 0 and sprite.end == frames and sprite.enter.effect == "none" and sprite.exit.effect == "none":
                _paste(background, sprite.image, sprite.x, sprite.y)
                continue
            sprites.append(sprite)
        say = tuple(expressions.evaluate_text(line, ctx).strip() for line in scene.say)
    except expressions.ExpressionError as exc:
        raise RenderError(f"scene '{scene.id}'", str(exc)) from exc
    bg = background if video_bg else background.convert("RGB")
    key = _scene_key(scene, W, H, fps, frames, bg, sprites, profile_key + (f"/clip:{file_digest(video_bg)}" if video_bg else ""))
    return ResolvedScene(scene, W, H, fps, frames, bg, tuple(sprites), say, key, video_bg)


def _paste(background: Image.Image, still: Image.Image, x: int, y: int) -> None:
    """alpha_composite that tolerates a still partly outside the frame."""
    layer = Image.new("RGBA", background.size, (0, 0, 0, 0))
    layer.paste(still, (x, y))
    background.alpha_composite(layer)


def _scene_key(scene: Scene, W: int, H: int, fps: int, frames: int, bg: Image.Image, sprites: list[Sprite], profile_key: str) -> str:
    h = hashlib.sha256()
    h.update(f"scene/v{RENDERER_VERSION}/{fonts_digest()}/{profile_key}/{W}x{H}@{fps}/{frames}\0".encode())
    h.update(bg.tobytes())
    for s in sprites:
        h.update(f"{s.x},{s.y},{s.start},{s.end},{s.enter},{s.exit},{s.rtl},{s.image.size}\0".encode())
        h.update(s.image.tobytes())
    return h.hexdigest()
