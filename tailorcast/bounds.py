"""What one template expression may compute: the sandbox's operand bounds, and the same rules read statically.

A template is typed by staff (and, with the studio, in a browser): ``'x' * 10**10``, ``10**10**10`` or
``('x' * 99999).ljust(10**9)`` would each take the process down in a single C call, before any time or
memory budget could stop it. So every operation that can make a big value is checked on its operands first
(:func:`check_binop`, :func:`check_call`, :func:`bounded_filter`); :func:`refused` finds the same faults in an
expression's constant parts, so ``tailorcast validate`` reports them before any row is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import MAX_RANGE

MAX_SIZE = 100_000  # characters in a string, or items in a list, that one operation may make
MAX_INT_BITS = 512  # an integer of at most about 154 digits
MAX_OUTPUT = 1_000_000  # characters one expression (or one page) may render
_WIDE_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")  # "%099999999d" % 1
_WIDE_BRACES = re.compile(r"\{[^{}]*:[^{}]*(?:\d{6,}|\{)")  # "{:999999999}".format(1), nested widths
_SEQUENCES = (str, bytes, list, tuple)


def _len(value: Any) -> int | None:
    return len(value) if isinstance(value, _SEQUENCES) else None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_binop(op: str, left: Any, right: Any) -> None:
    """SecurityError when ``left op right`` would make a value over the bounds (before it is computed)."""
    if op == "*":
        for seq, n in ((left, right), (right, left)):
            size = _len(seq)
            if size is not None and _int(n) and size * n > MAX_SIZE:
                raise SecurityError(f"repeating {size} items {n} times makes more than {MAX_SIZE}")
        if _int(left) and _int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"the product is a number of more than {MAX_INT_BITS} bits")
    elif op == "**":
        if _int(left) and _int(right) and right > 0 and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
            raise SecurityError(f"{left} ** {right} is a number of more than {MAX_INT_BITS} bits")
    elif op == "+":
        a, b = _len(left), _len(right)
        if a is not None and b is not None and a + b > MAX_SIZE:
            raise SecurityError(f"joining them makes more than {MAX_SIZE} characters or items")
    elif op == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise SecurityError("a % format width or precision over 99999")


def check_format(spec: str) -> None:
    """``str.format`` specs: no width or precision over 99999, none taken from an argument (``{:{w}}``)."""
    if _WIDE_BRACES.search(spec):
        raise SecurityError("format(): a width or precision over 99999, or one taken from an argument")


def _check_ints(args: Iterable[Any], what: str) -> None:
    for a in args:
        if _int(a) and a > MAX_SIZE:
            raise SecurityError(f"{what}: {a} is larger than the {MAX_SIZE} allowed")


def _check_join(sep: Any, items: Any, what: str) -> list:
    items = list(items)
    if isinstance(sep, str) and len(sep) * len(items) > MAX_SIZE:
        raise SecurityError(f"{what}: joining {len(items)} items with {len(sep)} characters makes more than {MAX_SIZE}")
    return items


def check_call(obj: Any, args: tuple, kwargs: dict) -> tuple:
    """The arguments of a method call on a string or list, checked (``ljust(10**9)``, ``'{:999999999}'.format``,
    a huge ``join`` or ``replace``); returns ``args``, with an iterable to join turned into a list."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, _SEQUENCES):
        return args
    name = getattr(obj, "__name__", "")
    _check_ints([*args, *kwargs.values()], f"{name}()")
    if isinstance(owner, str):
        if name in ("format", "format_map"):
            check_format(owner)
        if name == "join" and args:
            args = (_check_join(owner, args[0], "join()"), *args[1:])
        if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            hits = owner.count(args[0]) if args[0] else len(owner) + 1
            if len(owner) + hits * len(args[1]) > MAX_SIZE:
                raise SecurityError(f"replace(): the result would be longer than {MAX_SIZE} characters")
    if name == "expandtabs" and isinstance(owner, str) and owner.count("\t") * (args[0] if args and _int(args[0]) else 8) > MAX_SIZE:
        raise SecurityError(f"expandtabs(): the result would be longer than {MAX_SIZE} characters")
    return args


def bounded_filter(name: str, fn: Callable) -> Callable:
    """A Jinja filter whose size arguments are checked first (``center(10**9)``, ``join`` of many, ``format``)."""

    @wraps(fn)
    def filter_(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not _is_context(a)]
        _check_ints([*values[1:], *kwargs.values()], f"filter {name!r}")
        if name == "format" and values and isinstance(values[0], str) and _WIDE_FORMAT.search(values[0]):
            raise SecurityError(f"filter {name!r}: a width or precision over 99999")
        if name == "join" and values:
            sep = values[1] if len(values) > 1 else kwargs.get("d", "")
            items = _check_join(sep, values[0], f"filter {name!r}")
            args = tuple(items if a is values[0] else a for a in args)
        if name in ("indent", "wordwrap", "center") and values and isinstance(values[0], str):
            width = values[1] if len(values) > 1 and isinstance(values[1], (int, str)) else 4
            pad = width if _int(width) else len(width)
            if (values[0].count("\n") + 1) * pad + len(values[0]) > MAX_SIZE:
                raise SecurityError(f"filter {name!r}: the result would be longer than {MAX_SIZE} characters")
        return fn(*args, **kwargs)

    return filter_


def _is_context(value: Any) -> bool:
    from jinja2.nodes import EvalContext
    from jinja2.runtime import Context

    return isinstance(value, (Context, EvalContext)) or type(value).__name__ == "Environment"


def capped(chunks: Iterable[str]) -> str:
    """A template's output, refused once it passes :data:`MAX_OUTPUT` characters (checked as it is produced)."""
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"the output is longer than {MAX_OUTPUT} characters")
        out.append(chunk)
    return "".join(out)


# --- the same rules, read from the expression ---------------------------------------------------------------------

class _NotConstant(Exception):
    pass


_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    nodes.Mul: ("*", lambda a, b: a * b), nodes.Pow: ("**", lambda a, b: a ** b), nodes.Add: ("+", lambda a, b: a + b),
    nodes.Sub: ("-", lambda a, b: a - b), nodes.Mod: ("%", lambda a, b: a % b), nodes.FloorDiv: ("//", lambda a, b: a // b),
    nodes.Div: ("/", lambda a, b: a / b),
}


def _constant(node: nodes.Node) -> Any:
    """The value of a constant subexpression, computed under the same bounds; _NotConstant otherwise."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [_constant(n) for n in node.items]
    if isinstance(node, nodes.Neg):
        return -_constant(node.node)
    if type(node) in _BINOPS:
        op, fn = _BINOPS[type(node)]
        left, right = _constant(node.left), _constant(node.right)
        check_binop(op, left, right)
        try:
            return fn(left, right)
        except (ArithmeticError, TypeError, ValueError):
            raise _NotConstant() from None
    raise _NotConstant()


def _try_constant(node: nodes.Node) -> tuple[bool, Any]:
    try:
        return True, _constant(node)
    except _NotConstant:
        return False, None


def refused(tree: nodes.Node) -> list[str]:
    """Why the sandbox would refuse parts of ``tree`` whatever the row: over-bound operations on constants,
    ``lipsum``, a constant ``range`` over the limit, a filter or method given a constant size over the limit."""
    found: list[str] = []
    for node in tree.find_all(nodes.Expr):
        try:
            if type(node) in _BINOPS:
                _try_constant(node)
            elif isinstance(node, nodes.Name) and node.name == "lipsum":
                found.append("'lipsum' is not available in templates")
            elif isinstance(node, nodes.Call):
                consts = [_try_constant(a) for a in node.args] + [_try_constant(k.value) for k in node.kwargs]
                ints = [v for ok, v in consts if ok and _int(v)]
                if isinstance(node.node, nodes.Name) and node.node.name == "range":
                    if len(ints) == len(node.args) and ints and not node.kwargs:
                        try:
                            size = len(range(*ints))
                        except (TypeError, ValueError):
                            size = 0
                        if size > MAX_RANGE:
                            found.append(f"range(...) has {size} items; at most {MAX_RANGE} are allowed")
                elif isinstance(node.node, nodes.Getattr):
                    _check_ints(ints, f"{node.node.attr}()")
            elif isinstance(node, nodes.Filter) and node.name:
                consts = [_try_constant(a) for a in node.args] + [_try_constant(k.value) for k in node.kwargs]
                _check_ints([v for ok, v in consts if ok], f"filter {node.name!r}")
        except SecurityError as exc:
            found.append(str(exc))
    return sorted(set(found), key=found.index)

