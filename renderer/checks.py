"""Template checks that need the renderer: can our fonts draw every string?"""

from __future__ import annotations

from tailorcast.errors import Problem, TemplateError
from tailorcast.spec.model import Template

from .text import CHAINS, missing_glyphs


def _texts(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif value is not None:
        yield str(value)


def font_problems(template: Template) -> list[Problem]:
    problems = []
    for locale, table in template.strings.items():
        for key, value in table.items():
            for text in _texts(value):
                for weight in CHAINS:
                    missing = missing_glyphs(text, weight)
                    if missing:
                        chars = " ".join(sorted(f"{c!r} (U+{ord(c):04X})" for c in missing))
                        problems.append(Problem(f"strings/{locale}.yaml {key}", f"no font in assets/fonts can draw {chars} in {weight}; add a font that covers them (see renderer/text.py CHAINS) or change the text"))
                        break
    return problems


def check_template(template: Template) -> None:
    """Raise TemplateError when a string cannot be drawn."""
    problems = font_problems(template)
    if problems:
        raise TemplateError(template.name, problems)
