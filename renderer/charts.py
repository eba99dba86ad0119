"""Consumption charts drawn with Pillow at twice the size, then downsampled (clean edges)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from .text import Shaper

SS = 2  # supersampling factor


@dataclass(frozen=True)
class ChartStyle:
    bar: tuple[int, int, int, int]
    highlight: tuple[int, int, int, int]
    ink: tuple[int, int, int, int]
    grid: tuple[int, int, int, int]
    label_size: int  # px, final size


def downsample(img: Image.Image, factor: int) -> Image.Image:
    """A supersampled RGBA drawing at its final size: the mean of each factor x factor block, alpha premultiplied
    (no dark fringes), a fifth of the time of a Lanczos resize."""
    return img.convert("RGBa").reduce(factor).convert("RGBA")


def _fmt(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def render_chart(
    values: list[float],
    labels: list[str],
    width: int,
    height: int,
    style: ChartStyle,
    kind: str = "bar",
    highlight: str = "last",
    average: bool = True,
    unit: str = "",
    value_label: str | None = None,
) -> Image.Image:
    W, H = width * SS, height * SS
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    n = max(len(values), 1)
    fs = style.label_size * SS
    shaper = Shaper(fs, "regular")
    bold = Shaper(fs, "bold")
    top_pad = int(fs * 1.9)
    bottom_pad = int(fs * 1.7) if labels else int(fs * 0.4)
    plot_h = max(H - top_pad - bottom_pad, 1)
    vmax = max(max(values, default=0.0), 1e-9)
    slot = W / n
    bar_w = slot * 0.62
    hi = {"last": n - 1, "max": max(range(n), key=lambda i: values[i]) if values else -1}.get(highlight, -1)
    base_y = top_pad + plot_h
    d.line([(0, base_y), (W, base_y)], fill=style.grid, width=SS)
    points = []
    for i, v in enumerate(values):
        cx = slot * (i + 0.5)
        h = plot_h * (v / vmax)
        colour = style.highlight if i == hi else style.bar
        if kind == "bar":
            r = min(bar_w / 2.5, 10 * SS)
            d.rounded_rectangle([cx - bar_w / 2, base_y - h, cx + bar_w / 2, base_y], radius=r if h > 2 * r else 0, fill=colour, corners=(True, True, False, False))
        points.append((cx, base_y - h))
        if labels:
            lw = shaper.width(labels[i])
            shaper.draw(d, cx - lw / 2, base_y + fs * 1.25, labels[i], style.ink, "ltr")
    if kind == "line" and len(points) > 1:
        d.line(points, fill=style.bar, width=3 * SS, joint="curve")
        for i, (x, y) in enumerate(points):
            rr = 6 * SS if i == hi else 4 * SS
            d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=style.highlight if i == hi else style.bar)
    if average and values:
        avg = sum(values) / len(values)
        y = base_y - plot_h * (avg / vmax)
        dash = 12 * SS
        for x in range(0, W, dash * 2):
            d.line([(x, y), (min(x + dash, W), y)], fill=style.ink, width=SS * 2)
    if 0 <= hi < len(values):
        text = value_label or f"{_fmt(values[hi])} {unit}".strip()
        tw = bold.width(text)
        x = min(max(points[hi][0] - tw / 2, 0), W - tw)
        bold.draw(d, x, points[hi][1] - fs * 0.55, text, style.ink, "ltr")
    return downsample(img, SS)
