"""The animation vocabulary: what a still looks like at progress p (0 = hidden, 1 = in place).

Every effect is a function of p applied to the still alone (opacity, offset,
scale, reveal), so the ffmpeg compositor, Pillow's reference frames and a browser
(CSS opacity / transform / clip-path with the same easing) draw the same thing.

- fade:        opacity p
- slide-left:  comes in from the left (offset 8 % of the frame's short side), opacity p
- slide-right, slide-up, slide-down: likewise from the right, from below, from above
- pop:         scales from 0.5 to 1 with a small overshoot (ease-out-back), opacity p
- wipe:        revealed from its start edge (left, or right in right-to-left locales)
An exit plays its effect backwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

SLIDE_FRACTION = 0.08
POP_FROM = 0.5
_BACK = 1.70158


def ease_out_cubic(p: float) -> float:
    return 1 - (1 - p) ** 3


def ease_out_back(p: float) -> float:
    return 1 + (_BACK + 1) * (p - 1) ** 3 + _BACK * (p - 1) ** 2


SLIDE_VECTORS = {"slide-left": (-1, 0), "slide-right": (1, 0), "slide-up": (0, 1), "slide-down": (0, -1)}
# slide-up comes from below (moves up), slide-down from above.


@dataclass(frozen=True)
class Canvas:
    """Fixed-size area an animated still moves in: the still sits at (ox, oy) inside it."""

    width: int
    height: int
    ox: int
    oy: int


def canvas_for(effects: tuple[str, ...], w: int, h: int, short_side: int) -> Canvas:
    left = top = right = bottom = 0
    d = slide_distance(short_side)
    for e in effects:
        if e in SLIDE_VECTORS:
            vx, vy = SLIDE_VECTORS[e]
            left, right = max(left, d if vx < 0 else 0), max(right, d if vx > 0 else 0)
            top, bottom = max(top, d if vy < 0 else 0), max(bottom, d if vy > 0 else 0)
        elif e == "pop":
            mx, my = math.ceil(w * 0.06) + 1, math.ceil(h * 0.06) + 1
            left, right, top, bottom = max(left, mx), max(right, mx), max(top, my), max(bottom, my)
    return Canvas(w + left + right, h + top + bottom, left, top)


def slide_distance(short_side: int) -> int:
    return round(SLIDE_FRACTION * short_side)


def _with_opacity(img: Image.Image, opacity: float) -> Image.Image:
    if opacity >= 1:
        return img
    r, g, b, a = img.split()
    a = a.point(lambda v: round(v * max(opacity, 0.0)))
    return Image.merge("RGBA", (r, g, b, a))


def appearance(img: Image.Image, effect: str, p: float, canvas: Canvas, short_side: int, rtl: bool = False) -> Image.Image:
    """The still drawn on its canvas at progress ``p``."""
    out = Image.new("RGBA", (canvas.width, canvas.height), (0, 0, 0, 0))
    p = min(max(p, 0.0), 1.0)
    if effect == "none" or p >= 1:
        out.alpha_composite(img, (canvas.ox, canvas.oy))
        return out
    if p <= 0:
        return out
    if effect == "fade":
        out.alpha_composite(_with_opacity(img, p), (canvas.ox, canvas.oy))
    elif effect in SLIDE_VECTORS:
        vx, vy = SLIDE_VECTORS[effect]
        off = (1 - ease_out_cubic(p)) * slide_distance(short_side)
        dx, dy = round(vx * off), round(vy * off)
        out.alpha_composite(_with_opacity(img, p), (canvas.ox + dx, canvas.oy + dy))
    elif effect == "pop":
        s = POP_FROM + (1 - POP_FROM) * ease_out_back(p)
        w, h = max(1, round(img.width * s)), max(1, round(img.height * s))
        scaled = img.resize((w, h), Image.Resampling.BILINEAR)
        x = canvas.ox + (img.width - w) // 2
        y = canvas.oy + (img.height - h) // 2
        out.alpha_composite(_with_opacity(scaled, p), (x, y))
    elif effect == "wipe":
        w = round(img.width * ease_out_cubic(p))
        if w > 0:
            box = (img.width - w, 0, img.width, img.height) if rtl else (0, 0, w, img.height)
            out.alpha_composite(img.crop(box), (canvas.ox + box[0], canvas.oy))
    else:
        raise ValueError(f"unknown animation {effect!r}")
    return out
