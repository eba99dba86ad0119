"""The sandbox every template expression and page runs in.

Marketing writes Jinja2; it runs in ``ImmutableSandboxedEnvironment`` with no
access to Python internals, no imports and no file access (the page loader
only sees the template folder). Filters format in the customer's locale.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import BaseLoader, StrictUndefined, meta, pass_context
from jinja2.exceptions import SecurityError, TemplateError as JinjaTemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import formatting
from .errors import ExpressionError
from .paths import confined
from .payments.amounts import DEFAULT_CURRENCY

# Names a scene may use and still be the same for every customer of a locale.
SHARED_NAMES = frozenset({"t", "brand", "locale", "lang", "dir", "contact", "template", "variant", "rendition"})
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@pass_context
def _money(ctx, value, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    return formatting.money(Decimal(str(value)), currency or ctx.get("currency") or DEFAULT_CURRENCY, ctx["locale"])


@pass_context
def _date(ctx, value, form: str = "long") -> str:
    if not isinstance(value, dt.date):
        return ""
    return formatting.date(value, ctx["locale"], form)


@pass_context
def _date_in_sentence(ctx, value, form: str = "long") -> str:
    if not isinstance(value, dt.date):
        return ""
    return formatting.date_in_sentence(value, ctx["locale"], form)


@pass_context
def _number(ctx, value, digits: int | None = None) -> str:
    if value is None or value == "":
        return ""
    return formatting.number(value, ctx["locale"], digits)


@pass_context
def _percent(ctx, value) -> str:
    return formatting.percent(value, ctx["locale"])


FILTERS = {"money": _money, "date": _date, "date_in_sentence": _date_in_sentence, "number": _number, "percent": _percent}


class Strings:
    """``t('key', name=...)``: a locale's strings with ``{placeholder}`` and plural forms.

    A plural string is a mapping of CLDR categories (``one``, ``other``, …) and
    takes its category from the ``count`` argument.
    """

    def __init__(self, locale: str, table: Mapping[str, Any], variant: str | None = None) -> None:
        self.locale = locale
        self.table = dict(table)
        self.variant = variant

    def __call__(self, key: str, **values: Any) -> str:
        """The string for ``key``; ``key@variant`` wins when the customer's variant has its own text."""
        if self.variant and f"{key}@{self.variant}" in self.table:
            key = f"{key}@{self.variant}"
        if key not in self.table:
            raise KeyError(f"no string {key!r} for locale {self.locale!r}")
        text = self.table[key]
        if isinstance(text, Mapping):
            if "count" not in values:
                raise KeyError(f"string {key!r} has plural forms; call it with count=, e.g. t('{key}', count=n)")
            count = values["count"]
            category = formatting.parse_locale(self.locale).plural_form(abs(count))
            text = text.get(category, text.get("other", ""))
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), str(text))


def _finalize(value: Any) -> Any:
    return "" if value is None else value


@lru_cache(maxsize=4)
def _base_env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined, finalize=_finalize)
    env.filters.update(FILTERS)
    return env


def text_env() -> ImmutableSandboxedEnvironment:
    """For video text and captions (plain text, no escaping)."""
    return _base_env(False)


class FolderLoader(BaseLoader):
    """A page and what it includes, from the template folder only, after resolving links (:func:`paths.confined`):
    Jinja's FileSystemLoader refuses ``..`` but follows a link that points out of the folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def get_source(self, environment, template: str):
        try:
            path = confined(self.root, template, "page file")
        except ValueError as exc:
            raise TemplateNotFound(template, str(exc)) from None
        if not path.is_file():
            raise TemplateNotFound(template, f"page file {template!r} not found in the template folder")
        mtime = path.stat().st_mtime
        return path.read_text(encoding="utf-8"), str(path), lambda: path.is_file() and path.stat().st_mtime == mtime


def page_env(loader) -> ImmutableSandboxedEnvironment:
    """For microsite HTML: autoescape on, templates only from ``loader``."""
    env = ImmutableSandboxedEnvironment(
        autoescape=True, undefined=StrictUndefined, finalize=_finalize, loader=loader
    )
    env.filters.update(FILTERS)
    return env


def _compiled(source: str, compile_with, what: str):
    try:
        return compile_with(source)
    except JinjaTemplateError as exc:
        raise ExpressionError(source, f"cannot parse{what} ({exc.message})") from exc


@lru_cache(maxsize=4096)
def compile_text(source: str):
    return _compiled(source, text_env().from_string, "")


@lru_cache(maxsize=4096)
def compile_condition(source: str):
    return _compiled(source, text_env().compile_expression, " condition")


@contextmanager
def _sandboxed(source: str):
    """Every way a template expression can fail, as one ExpressionError naming the expression."""
    try:
        yield
    except SecurityError as exc:
        raise ExpressionError(source, f"not allowed in a template ({exc})") from exc
    except JinjaTemplateError as exc:
        raise ExpressionError(source, exc.message or type(exc).__name__) from exc
    except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
        raise ExpressionError(source, str(exc)) from exc


def evaluate_text(source: str, context: Mapping[str, Any]) -> str:
    """A Jinja text evaluated in the sandbox (no pixels: :func:`renderer.text.draw_text` draws)."""
    if "{" not in source:
        return source
    with _sandboxed(source):
        return compile_text(source).render(context)


def evaluate_condition(source: str, context: Mapping[str, Any]) -> bool:
    with _sandboxed(source):
        return bool(compile_condition(source)(**context))


def names_used(source: str, condition: bool = False) -> frozenset[str]:
    """Top-level names an expression reads (for deciding shared vs personal)."""
    body = "{{ " + source + " }}" if condition else source
    try:
        return frozenset(meta.find_undeclared_variables(text_env().parse(body)))
    except JinjaTemplateError as exc:
        raise ExpressionError(source, f"cannot parse ({exc.message})") from exc
