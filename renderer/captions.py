"""WebVTT captions: one cue per line a scene says, spread evenly over the scene."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Spaces that must not become a line break: between an amount and its currency ("128,48 €", U+00A0),
# in French thousands and before "€" (U+202F), between figures (U+2007). They stay as they are in the cue
# text and the transcript, so a browser never wraps a caption line at them (Unicode line breaking: class GL).
NO_BREAK_SPACES = "\u00a0\u202f\u2007"
_BREAKING_SPACE = re.compile(f"[^\\S{NO_BREAK_SPACES}]+")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    scene: str


def cues_for(scenes) -> list[Cue]:
    """``scenes``: resolved scenes in play order."""
    out, t = [], 0.0
    for rs in scenes:
        lines = [line for line in rs.captions if line]
        if lines:
            step = rs.duration / len(lines)
            for i, line in enumerate(lines):
                out.append(Cue(round(t + i * step, 3), round(t + (i + 1) * step, 3), line, rs.id))
        t += rs.duration
    return out


def _ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def one_line(text: str) -> str:
    """Runs of breaking white space (newlines and tabs too: a blank line would end the cue) as one space;
    the no-break spaces are kept."""
    return _BREAKING_SPACE.sub(" ", text).strip(" ")


def _escape(text: str) -> str:
    # WebVTT cue text: & and < start markup; "-->" would end the timing line
    return one_line(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def to_webvtt(cues: list[Cue], lang: str) -> str:
    parts = [f"WEBVTT\nLanguage: {lang}\n"]
    for i, c in enumerate(cues, 1):
        parts.append(f"{i}\n{_ts(c.start)} --> {_ts(c.end)}\n{_escape(c.text)}\n")
    return "\n".join(parts)
