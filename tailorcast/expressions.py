"""The sandbox every template expression and page runs in.

Marketing writes Jinja2; it runs in ``ImmutableSandboxedEnvironment`` with no
access to Python internals, no imports and no file access (the page loader
only sees the template folder). Filters format in the customer's locale.
What one evaluation may compute is bounded twice: operations that make big values are checked on their
operands (tailorcast/bounds.py; intercepted operators are never folded at compile time), and each
evaluation runs under a CPU-time and memory budget (tailorcast/budget.py); inside :func:`row_budget` (one
customer's render) all of a row's evaluations share a CPU-time account too. Every failure, a recursive
macro and a page that includes itself among them, is one ExpressionError naming the expression.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from jinja2 import BaseLoader, StrictUndefined, meta, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError as JinjaTemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import bounds, formatting
from .bounds import bounded_filter, capped, check_binop, check_call, check_format
from . import budget
from .budget import OutOfMemory, OutOfTime
from .errors import ExpressionError
from .paths import confined
from .payments.amounts import DEFAULT_CURRENCY

T = TypeVar("T")

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


EVAL_SECONDS = 2.0  # CPU seconds one expression (or one page) may take; real ones take microseconds to milliseconds
EVAL_MEMORY = 512 * 2**20  # bytes the process may grow by while one expression (or page) is evaluated
MAX_DEPTH = 60  # levels of a parsed template or expression (the sample pages reach 10, their texts 7); Jinja's
# code generator costs the cube of the depth (a chain of 300 filters: 9 s of CPU to compile, before any budget)
ROW_SECONDS = 10.0  # CPU seconds all the expressions and the page of one customer may take together

_row = threading.local()  # this thread's row account (``account``: an _Account, None outside a row)


class _Account:
    """CPU seconds one customer's expressions and page may still take (``left``) of ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = self.left = seconds


@contextmanager
def row_budget(seconds: float | None = None):
    """Every expression and page evaluated in this thread inside the block draws on one account of ``seconds``
    of CPU time: a template of many expressions that are each just under :data:`EVAL_SECONDS` cannot make one
    customer cost minutes. Over it, the evaluation that runs out (and every later one) is an ExpressionError
    that says so; the render and the encode themselves do not count. ``seconds``: :data:`ROW_SECONDS` by default."""
    outer = getattr(_row, "account", None)
    _row.account = _Account(ROW_SECONDS if seconds is None else seconds)
    try:
        yield
    finally:
        _row.account = outer


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with bounded operations: ``*``, ``**``, ``+`` and ``%`` are checked on their operands (and, being
    intercepted, never folded at compile time), method calls on strings and lists on their arguments."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def wrap_str_format(self, value: Any):
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            check_format(owner)
        return super().wrap_str_format(value)

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        args = check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every parse (a page, a text, :func:`names_used`) is refused past :data:`MAX_DEPTH` before any code is made."""
        return _shallow(super()._parse(source, name, filename), name, filename)

    def _generate(self, source: nodes.Template, name, filename, defer_init: bool = False) -> str:
        """And every tree compiled without a parse here (``compile_expression``, a condition)."""
        return super()._generate(_shallow(source, name, filename), name, filename, defer_init)


def _shallow(tree: nodes.Template, name: str | None, filename: str | None) -> nodes.Template:
    """``tree``, or TemplateSyntaxError when it nests deeper than :data:`MAX_DEPTH` (counted without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TemplateSyntaxError(f"nested too deeply (more than {MAX_DEPTH} levels of brackets, filters, and/or or "
                                      "blocks); split it with {% set %} or simplify it", node.lineno or 1, name, filename)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return tree


def _sandbox(autoescape: bool, loader=None) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, finalize=_finalize, loader=loader)
    env.globals.pop("lipsum", None)  # lorem ipsum of any length: no use in a bill
    env.filters.update(FILTERS)
    env.filters = {name: bounded_filter(name, fn) for name, fn in env.filters.items()}
    return env


@lru_cache(maxsize=4)
def _base_env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return _sandbox(autoescape)


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
    """For microsite HTML: autoescape on, templates only from ``loader``; render with :func:`render_page`."""
    return _sandbox(True, loader)


def _compiled(source: str, compile_with, what: str):
    try:
        return compile_with(source)
    except JinjaTemplateError as exc:
        raise ExpressionError(source, f"cannot parse{what} ({exc.message})") from exc
    except SyntaxError as exc:  # under MAX_DEPTH, yet more than Python compiles: 21 nested {% for %}, say
        raise ExpressionError(source, f"cannot parse{what} ({_too_deep_for_python(exc)})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(source, f"cannot parse{what} (nested too deeply)") from None


def _too_deep_for_python(exc: SyntaxError) -> str:
    """Python's compiler takes at most 20 nested blocks (loops, ifs) and 200 nested brackets in one function."""
    return (f"nested too deeply for Python ({exc.msg}); at most 20 {{% for %}}/{{% if %}} blocks inside one another: "
            "move the inner ones into a macro or split the text")


@lru_cache(maxsize=4096)
def compile_text(source: str):
    return _compiled(source, text_env().from_string, "")


@lru_cache(maxsize=4096)
def compile_condition(source: str):
    return _compiled(source, text_env().compile_expression, " condition")


def _evaluate(source: str, fn: Callable[[], T]) -> T:
    """``fn()`` (one evaluation of ``source``) in the sandbox's budget: :data:`EVAL_SECONDS`, or what is left of
    the row's account when that is less (inside :func:`row_budget`), and :data:`EVAL_MEMORY`. Every way it can
    fail is one ExpressionError naming ``source``. An evaluation inside an outer budget (checking a template, in
    spec/load.py) runs under the outer one, which reports running out with its own limit."""
    nested = budget.active()
    account = None if nested else getattr(_row, "account", None)  # an inner evaluation: the outer one is accounted
    limit, row_limited = EVAL_SECONDS, False
    if account is not None:
        if account.left <= 0:
            raise ExpressionError(source, _row_spent(account))
        limit, row_limited = min(EVAL_SECONDS, account.left), account.left < EVAL_SECONDS
    started = time.thread_time()
    try:
        return budget.run(fn, limit, EVAL_MEMORY)
    except SecurityError as exc:
        raise ExpressionError(source, f"not allowed in a template ({exc})") from exc
    except JinjaTemplateError as exc:
        raise ExpressionError(source, exc.message or type(exc).__name__) from exc
    except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
        raise ExpressionError(source, str(exc)) from exc
    except SyntaxError as exc:  # a page whose compiled code nests deeper than Python's compiler allows
        raise ExpressionError(source, f"cannot parse ({_too_deep_for_python(exc)})") from None
    except RecursionError:
        raise ExpressionError(source, "calls itself without end (a macro that calls itself, or a page that includes "
                                      "itself); remove the loop") from None
    except (OutOfTime, OutOfMemory, MemoryError) as exc:
        if nested and not isinstance(exc, MemoryError):  # the outer budget's (a page's, or checking a template's): it says so
            raise
        if isinstance(exc, OutOfTime):
            if row_limited:
                raise ExpressionError(source, _row_spent(account)) from None
            raise ExpressionError(source, f"took more than {EVAL_SECONDS:g} s of CPU; a template must not loop that "
                                          "long (look for nested loops over large ranges)") from None
        raise ExpressionError(source, f"needed more than {EVAL_MEMORY // 2**20} MiB of memory; a template must not "
                                      "build values that large") from None
    finally:
        if account is not None:
            account.left -= time.thread_time() - started


def _row_spent(account: _Account) -> str:
    return (f"this customer's expressions and page together took more than {account.seconds:g} s of CPU; a template "
            "must not compute that much per customer (look for loops over large ranges in its texts, conditions and page)")


def evaluate_text(source: str, context: Mapping[str, Any]) -> str:
    """A Jinja text evaluated in the sandbox (no pixels: :func:`renderer.text.draw_text` draws)."""
    if "{" not in source:
        return source
    return _evaluate(source, lambda: capped(compile_text(source).generate(context)))


def evaluate_condition(source: str, context: Mapping[str, Any]) -> bool:
    return _evaluate(source, lambda: bool(compile_condition(source)(**context)))


def render_page(env: ImmutableSandboxedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    """The page ``name`` from :func:`page_env`'s ``env``, under the same bounds and budget as an expression."""
    return _evaluate(name, lambda: capped(env.get_template(name).generate(context)))


def include_cycle(loader: FolderLoader, name: str) -> list[str]:
    """The first chain of pages that includes (imports, extends) itself, starting at ``name``; [] when there is none.
    Only constant names are followed: a computed name is checked when the page renders (then a RecursionError,
    which :func:`render_page` reports as a template error)."""
    env = text_env()
    done: set[str] = set()

    def visit(page: str, chain: list[str]) -> list[str]:
        if page in chain:
            return [*chain[chain.index(page):], page]
        if page in done:
            return []
        try:
            source = loader.get_source(env, page)[0]
            tree = env.parse(source)
        except (JinjaTemplateError, RecursionError, OSError, UnicodeDecodeError):
            return []  # a missing or broken page is reported where it is loaded
        for included in _constant_includes(tree):
            found = visit(included, [*chain, page])
            if found:
                return found
        done.add(page)
        return []

    return visit(name, [])


def _constant_includes(tree: nodes.Template) -> list[str]:
    """The pages a parsed page includes, imports or extends by a constant name."""
    return [node.template.value for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))
            if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str)]


def page_problems(loader: FolderLoader, name: str) -> list[str]:
    """Why ``name``, or a page it includes by a constant name, cannot be compiled: a syntax error (with its line),
    nesting past :data:`MAX_DEPTH` or past what Python compiles, a missing included page. ``tailorcast validate``
    reports them, so a broken page fails before any row, not once per customer."""
    env, out, seen, todo, optional = page_env(loader), [], set(), [name], set()
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        try:
            source, filename, _ = loader.get_source(env, page)
            tree = env.parse(source, page, filename)
            env.compile(tree, page, filename)
        except TemplateNotFound as exc:
            if page not in optional:  # {% include ... ignore missing %} may name a page that is not there
                out.append(f"{page!r} is included but cannot be loaded ({exc.message or exc.name})" if page != name else str(exc.message))
            continue
        except TemplateSyntaxError as exc:
            out.append(f"{page!r}, line {exc.lineno}: {exc.message}")
            continue
        except SyntaxError as exc:
            out.append(f"{page!r}: {_too_deep_for_python(exc)}")
            continue
        except RecursionError:
            out.append(f"{page!r}: nested too deeply")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            out.append(f"{page!r} cannot be read ({exc})")
            continue
        todo.extend(_constant_includes(tree))
        optional |= {node.template.value for node in tree.find_all(nodes.Include)
                     if node.ignore_missing and isinstance(node.template, nodes.Const)}
    return out


def refused(source: str, condition: bool = False) -> list[str]:
    """What the sandbox would refuse in ``source`` for every row (constant operands over the bounds, ``lipsum``,
    a huge constant range): ``tailorcast validate`` reports it before any row is rendered."""
    body = "{{ " + source + " }}" if condition else source
    try:
        return bounds.refused(text_env().parse(body))
    except (JinjaTemplateError, RecursionError):
        return []  # a syntax error is reported by names_used


def names_used(source: str, condition: bool = False) -> frozenset[str]:
    """Top-level names an expression reads (for deciding shared vs personal)."""
    body = "{{ " + source + " }}" if condition else source
    try:
        return frozenset(meta.find_undeclared_variables(text_env().parse(body)))
    except JinjaTemplateError as exc:
        raise ExpressionError(source, f"cannot parse ({exc.message})") from exc
    except RecursionError:
        raise ExpressionError(source, "cannot parse (nested too deeply)") from None
