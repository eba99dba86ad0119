"""Layer types, looked up by name: each turns a resolved layer into an RGBA still of its box.

A still is drawn once per customer (or once per locale for shared scenes) and
then only moved, faded or scaled by the animation; the browser's live mode can
use the same PNGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
import segno
from PIL import Image, ImageDraw

from .charts import ChartStyle, downsample, render_chart
from .text import TextStyle, chain_name, draw_text


def parse_color(value: str) -> tuple[int, int, int, int]:
    """``#RRGGBB`` or ``#RRGGBBAA`` → RGBA; ValueError otherwise."""
    v = str(value).strip()
    if not v.startswith("#") or len(v) not in (7, 9):
        raise ValueError(f"colour {value!r} is not #RRGGBB or #RRGGBBAA")
    try:
        rgb = [int(v[i : i + 2], 16) for i in range(1, len(v), 2)]
    except ValueError:
        raise ValueError(f"colour {value!r} is not #RRGGBB or #RRGGBBAA") from None
    return tuple(rgb + [255] * (4 - len(rgb)))  # type: ignore[return-value]


@dataclass(frozen=True)
class LayerInput:
    """A layer with every expression already evaluated for one customer."""

    type: str
    width: int
    height: int
    frame_short_side: int
    style: Mapping[str, Any]  # colours resolved to strings
    params: Mapping[str, Any]  # text / data / values / labels / src_path …
    direction: str  # the locale's writing direction
    brand: Mapping[str, Any]


def _px(li: LayerInput, key: str, default: float) -> int:
    return max(1, round(float(li.style.get(key, default)) * li.frame_short_side))


def _text_style(li: LayerInput, default_weight: str = "regular", default_color: str = "#FFFFFF") -> TextStyle:
    s = li.style
    return TextStyle(
        size=_px(li, "size", 0.06),
        color=parse_color(s.get("color", li.brand.get("ink", default_color))),
        weight=chain_name(s.get("font", "sans"), s.get("weight", default_weight)),
        align=s.get("align", "center"),
        valign=s.get("valign", "middle"),
        max_lines=int(s.get("max_lines", 2)),
        overflow=s.get("overflow", "shrink"),
        line_height=float(s.get("line_height", 1.2)),
        direction=li.direction,
    )


def text_layer(li: LayerInput) -> Image.Image:
    return draw_text(li.params["text"], li.width, li.height, _text_style(li))


def button_layer(li: LayerInput) -> Image.Image:
    img = Image.new("RGBA", (li.width * 2, li.height * 2), (0, 0, 0, 0))
    fill = parse_color(li.style.get("fill", li.brand.get("accent", "#FFB703")))
    radius = float(li.style.get("radius", 0.5)) * li.height * 2
    ImageDraw.Draw(img).rounded_rectangle([0, 0, li.width * 2 - 1, li.height * 2 - 1], radius=radius, fill=fill)
    img = downsample(img, 2)
    pad = int(li.height * 0.18)
    style = _text_style(li, "bold", "#111111")
    style = TextStyle(**{**style.__dict__, "max_lines": 1})
    label = draw_text(li.params["text"], li.width - 2 * pad, li.height - pad, style)
    img.alpha_composite(label, (pad, pad // 2))
    return img


def shape_layer(li: LayerInput) -> Image.Image:
    img = Image.new("RGBA", (li.width * 2, li.height * 2), (0, 0, 0, 0))
    fill = parse_color(li.style.get("fill", "#FFFFFF33"))
    radius = float(li.style.get("radius", 0.0)) * min(li.width, li.height) * 2
    ImageDraw.Draw(img).rounded_rectangle([0, 0, li.width * 2 - 1, li.height * 2 - 1], radius=radius, fill=fill)
    return downsample(img, 2)


@lru_cache(maxsize=64)
def _load_image(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGBA")


def image_layer(li: LayerInput) -> Image.Image:
    """The image fitted inside the box (contain), centred."""
    src = _load_image(str(li.params["src_path"]))
    scale = min(li.width / src.width, li.height / src.height)
    w, h = max(1, round(src.width * scale)), max(1, round(src.height * scale))
    img = Image.new("RGBA", (li.width, li.height), (0, 0, 0, 0))
    img.alpha_composite(src.resize((w, h), Image.Resampling.LANCZOS), ((li.width - w) // 2, (li.height - h) // 2))
    return img


# Every QR code we draw (video, live stills, the page's EPC and pagoPA codes) uses this data mask. A reader
# decodes any of the eight; the standard's penalty evaluation only picks the most scanner-friendly one, and in
# segno's pure Python it was most of a code's cost (6.1 ms of 7.3 per code here; an unbaked bill customer
# draws two codes, the video's pay link and the page's EPC transfer: 0.069 → 0.062 CPU-s per customer, one run).
# Mask 2 is the one that evaluation picks for most of our payloads (206 of 300 sample pay links and EPC
# transfers), with the smallest extra penalty when it is not. tests/test_payment_qr.py decodes every kind we draw.
QR_MASK = 2


@lru_cache(maxsize=64)
def _qr_modules(data: str) -> np.ndarray:
    """The QR code's modules with a quiet zone of 2 (renditions draw the same code at other sizes: encoded once)."""
    qr = segno.make(data, error="m", micro=False, mask=QR_MASK)
    return np.pad(np.array([list(row) for row in qr.matrix], dtype=np.uint8), 2)


def qr_layer(li: LayerInput) -> Image.Image:
    """A QR code on a white card with its quiet zone, as large as the box allows."""
    matrix = _qr_modules(str(li.params["data"]))
    side = min(li.width, li.height)
    module = max(1, side // matrix.shape[0])
    pixels = np.where(matrix == 1, 17, 255).astype(np.uint8)
    code = Image.fromarray(pixels).resize((matrix.shape[1] * module, matrix.shape[0] * module), Image.Resampling.NEAREST)
    card = Image.new("RGBA", (li.width, li.height), (0, 0, 0, 0))
    ox, oy = (li.width - code.width) // 2, (li.height - code.height) // 2
    ImageDraw.Draw(card).rounded_rectangle([ox - 4, oy - 4, ox + code.width + 3, oy + code.height + 3], radius=8, fill=(255, 255, 255, 255))
    card.paste(code.convert("RGBA"), (ox, oy))
    return card


def chart_layer(li: LayerInput) -> Image.Image:
    s = li.style
    style = ChartStyle(
        bar=parse_color(s.get("color", "#FFFFFF99")),
        highlight=parse_color(s.get("fill", li.brand.get("accent", "#FFB703"))),
        ink=parse_color(li.brand.get("ink", "#FFFFFF")),
        grid=(255, 255, 255, 90),
        label_size=_px(li, "size", 0.028),
    )
    p = li.params
    return render_chart(
        list(p["values"]),
        list(p.get("labels") or []),
        li.width,
        li.height,
        style,
        kind=p.get("kind", "bar"),
        highlight=p.get("highlight", "last"),
        average=bool(p.get("average", True)),
        unit=p.get("unit", ""),
        value_label=p.get("value_label"),
    )


LAYER_TYPES: dict[str, Callable[[LayerInput], Image.Image]] = {
    "text": text_layer,
    "button": button_layer,
    "shape": shape_layer,
    "image": image_layer,
    "qr": qr_layer,
    "chart": chart_layer,
}


def render_layer(li: LayerInput) -> Image.Image:
    return LAYER_TYPES[li.type](li)


def paint_background(width: int, height: int, background: Mapping[str, Any]) -> Image.Image:
    """The scene's background as an RGB still: a colour, or an image covering the frame."""
    if background.get("image_path"):
        src = _load_image(str(background["image_path"]))
        scale = max(width / src.width, height / src.height)
        w, h = round(src.width * scale), round(src.height * scale)
        img = src.resize((w, h), Image.Resampling.LANCZOS).crop(((w - width) // 2, (h - height) // 2, (w - width) // 2 + width, (h - height) // 2 + height))
        base = Image.new("RGBA", (width, height), parse_color(background.get("color", "#000000")))
        base.alpha_composite(img)
        return base.convert("RGB")
    return Image.new("RGB", (width, height), parse_color(background.get("color", "#000000"))[:3])
