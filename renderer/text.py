"""Text that fits its box, in any script: font per script run, raqm shaping, wrap, shrink, ellipsis.

Pillow has no per-character font fallback, so a line is split into runs, each
drawn with the first font of the chain that has its letters; raqm shapes each
run (Arabic joins, Hebrew orders). In a right-to-left paragraph the runs are
laid out right to left.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from tailorcast.paths import FONTS_DIR

# A chain per (family, weight): the first font that has a letter draws it; Arabic and Hebrew
# letters go to their script's own font first.
CHAINS = {
    "regular": ("DejaVuSans.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "NotoSansArabic-Bold.ttf", "NotoSansHebrew-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf"),
    "serif-bold": ("DejaVuSerif-Bold.ttf", "NotoSansArabic-Bold.ttf", "NotoSansHebrew-Bold.ttf"),
}
FAMILIES = ("sans", "serif")


def chain_name(family: str = "sans", weight: str = "regular") -> str:
    """The font chain for a style's ``font:`` and ``weight:``."""
    if family == "serif":
        return "serif-bold" if weight == "bold" else "serif"
    return "bold" if weight == "bold" else "regular"
ELLIPSIS = "…"


def font_files() -> list[Path]:
    return sorted({FONTS_DIR / n for chain in CHAINS.values() for n in chain})


@lru_cache(maxsize=1)
def fonts_digest() -> str:
    h = hashlib.sha256()
    for p in font_files():
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=16)
def coverage(name: str) -> frozenset[int]:
    with TTFont(FONTS_DIR / name, lazy=True) as f:
        return frozenset(f.getBestCmap())


@lru_cache(maxsize=256)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS_DIR / name), size, layout_engine=ImageFont.Layout.RAQM)


def _is_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def _is_strong(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("L", "R", "AL")


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return "arabic" if name.startswith("ARABIC") else "hebrew" if name.startswith("HEBREW") else ""


def font_for(ch: str, weight: str = "regular") -> str | None:
    """The font a letter is drawn with: its script's own font first, then the chain."""
    script = _script(ch)
    chain = CHAINS[weight]
    if script:
        chain = tuple(n for n in chain if script in n.lower()) + chain
    for name in chain:
        if ord(ch) in coverage(name):
            return name
    return None


def missing_glyphs(text: str, weight: str = "regular") -> set[str]:
    """Characters no font of the chain can draw (for template validation)."""
    return {ch for ch in set(text) if not ch.isspace() and unicodedata.category(ch)[0] != "C" and font_for(ch, weight) is None}


def paragraph_direction(text: str, default: str = "ltr") -> str:
    for ch in text:
        if _is_strong(ch):
            return "rtl" if _is_rtl(ch) else "ltr"
    return default


@dataclass(frozen=True)
class Run:
    text: str
    font: str
    direction: str


def split_runs(text: str, weight: str = "regular") -> list[Run]:
    """Logical-order runs of one font and one direction; neutral characters join the run before them."""
    primary = CHAINS[weight][0]
    runs: list[list] = []
    for ch in text:
        name = font_for(ch, weight) or primary
        strong = _is_strong(ch)
        d = ("rtl" if _is_rtl(ch) else "ltr") if strong else None
        if runs:
            cur = runs[-1]
            neutral_fits = not strong and ord(ch) in coverage(cur[1])
            if neutral_fits or (cur[1] == name and (d is None or cur[2] in (None, d))):
                cur[0].append(ch)
                if cur[2] is None:
                    cur[2] = d
                continue
        runs.append([[ch], name, d])
    return [Run("".join(chars), name, d or "ltr") for chars, name, d in runs]


def _flip_spaces(run: Run) -> Run:
    """A left-to-right run inside a right-to-left line: its edge spaces belong on the other side."""
    if run.direction != "ltr":
        return run
    core = run.text.strip(" ")
    lead = run.text[: len(run.text) - len(run.text.lstrip(" "))]
    trail = run.text[len(run.text.rstrip(" ")) :]
    return Run(trail + core + lead, run.font, run.direction)


class Shaper:
    """Measures and draws one line of mixed-script text at one size."""

    def __init__(self, size: int, weight: str = "regular", language: str | None = None) -> None:
        self.size = size
        self.weight = weight
        self.language = language

    def _len(self, run: Run) -> float:
        return _font(run.font, self.size).getlength(run.text, direction=run.direction)

    def width(self, line: str) -> float:
        return sum(self._len(r) for r in split_runs(line, self.weight))

    def draw(self, draw: ImageDraw.ImageDraw, x: float, baseline: float, line: str, fill, base_dir: str) -> None:
        runs = split_runs(line, self.weight)
        if base_dir == "rtl":
            runs = [_flip_spaces(r) for r in runs[::-1]]
        for r in runs:
            draw.text((x, baseline), r.text, font=_font(r.font, self.size), fill=fill, anchor="ls", direction=r.direction)
            x += self._len(r)

    def metrics(self) -> tuple[int, int]:
        ascent, descent = _font(CHAINS[self.weight][0], self.size).getmetrics()
        return ascent, descent


# White space a line may break at: all of it but the no-break spaces (U+00A0, figure U+2007, narrow U+202F)
# that keep "128,48 €" and "1° dicembre" on one line. str.split() would break at them too.
_BREAK = re.compile(r"[^\S\u00a0\u2007\u202f]+")


def wrap(shaper: Shaper, text: str, max_width: float) -> list[str]:
    """Greedy word wrap at breaking spaces (never at a no-break space); a word wider than the line is broken
    between characters."""
    lines: list[str] = []
    for para in text.split("\n"):
        words = [w for w in _BREAK.split(para) if w]
        cur = ""
        for word in words:
            cand = f"{cur} {word}" if cur else word
            if shaper.width(cand) <= max_width:
                cur = cand
                continue
            if cur:
                lines.append(cur)
            cur = word
            while shaper.width(cur) > max_width and len(cur) > 1:
                cut = len(cur) - 1
                while cut > 1 and shaper.width(cur[:cut]) > max_width:
                    cut -= 1
                lines.append(cur[:cut])
                cur = cur[cut:]
        lines.append(cur)
    return lines


def ellipsize(shaper: Shaper, line: str, max_width: float) -> str:
    if shaper.width(line + ELLIPSIS) <= max_width:
        return line + ELLIPSIS
    while line and shaper.width(line.rstrip() + ELLIPSIS) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class TextStyle:
    size: int  # px
    color: tuple[int, int, int, int]
    weight: str = "regular"
    align: str = "center"  # left | center | right | start | end
    valign: str = "middle"
    max_lines: int = 2
    overflow: str = "shrink"  # shrink | ellipsis
    line_height: float = 1.2
    direction: str = "ltr"  # the locale's direction, used when the text has no strong letter


MIN_SHRINK = 0.45


def layout(text: str, width: int, height: int, style: TextStyle) -> tuple[int, list[str]]:
    """Pick the font size and lines so the text fits ``width`` x ``height`` in ``max_lines``."""
    size = style.size
    while True:
        shaper = Shaper(size, style.weight)
        lines = wrap(shaper, text, width)
        fits = len(lines) <= style.max_lines and len(lines) * size * style.line_height <= height * 1.02
        if fits or style.overflow == "ellipsis" or size <= style.size * MIN_SHRINK:
            break
        size = max(int(size * 0.92), 1)
    max_lines = max(1, min(style.max_lines, int(height // (size * style.line_height)) or 1))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = ellipsize(shaper, lines[-1], width)
    return size, lines


def draw_text(text: str, width: int, height: int, style: TextStyle) -> Image.Image:
    """An RGBA image of ``width`` x ``height`` with the text laid out inside."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if not text.strip():
        return img
    size, lines = layout(text, width, height, style)
    shaper = Shaper(size, style.weight)
    draw = ImageDraw.Draw(img)
    base_dir = style.direction  # like HTML dir=: the locale decides, not the first letter (a Latin name in Arabic text)
    line_h = size * style.line_height
    ascent, descent = shaper.metrics()
    block = line_h * (len(lines) - 1) + ascent + descent
    top = {"top": 0, "bottom": height - block}.get(style.valign, (height - block) / 2)
    align = style.align
    if align in ("start", "end"):
        align = {("start", "ltr"): "left", ("start", "rtl"): "right", ("end", "ltr"): "right", ("end", "rtl"): "left"}[(align, base_dir)]
    for i, line in enumerate(lines):
        w = shaper.width(line)
        x = {"left": 0, "right": width - w}.get(align, (width - w) / 2)
        shaper.draw(draw, x, top + ascent + i * line_h, line, style.color, base_dir)
    return img
