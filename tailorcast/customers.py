"""Customer rows: read a CRM export, check every row against the template's fields.

Rows are streamed (a billing run can have ten million) from a CSV in any common dialect, a JSONL or a
Parquet file, local or in S3 (:mod:`tailorcast.records`); each comes out as a ``Customer`` or a
``RowError`` naming the row, the customer id and the column. One bad row never stops the others.

Row numbers are as a spreadsheet shows them: in a CSV the header is row 1 and the first customer is
row 2; in JSONL and Parquet the first record is row 1.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .csvfile import write_input_csv
from .dialects import DECIMAL_MARKS, number_text, shown_cell
from .errors import InputError, RowError
from .formatting import parse_locale
from .idset import SeenIds
from .records import open_rows
from .sources import source_of
from .spec.model import Field, Template

_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")
_LIST_SPLIT = re.compile(r"[;|]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CENT = Decimal("0.01")
MAX_INTEGER = Decimal(10) ** 18  # days overdue, counts: a cell of thousands of digits is no count (and costs to print)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # no one types these; tab and line breaks are kept
_SURROGATE = re.compile("[\ud800-\udfff]")  # half a UTF-16 pair: a JSON escape like \ud800 alone; no text has one


@dataclass(frozen=True)
class InputOptions:
    """How to read a customers file: what the operator says about it on the command line."""

    encoding: str | None = None  # --encoding; None: UTF-8 (a byte order mark, UTF-8 or UTF-16, is followed)
    decimal: str = "."  # --decimal: "," when the export writes 1.234,56
    endpoint_url: str | None = None  # --endpoint-url, for an s3:// file


@dataclass(frozen=True)
class Customer:
    row: int
    customer_id: str
    locale: str  # the row's locale, as given (formatting)
    strings_locale: str  # the strings table it uses (same, its language, or the fallback)
    values: Mapping[str, Any]


def _number_text(value: Any, mark: str) -> str:
    """A cell as the text of a plain number (``-1234.5``): as the export writes numbers (``mark``), or from JSON or Parquet."""
    if isinstance(value, str):
        return number_text(value, mark)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"is a {type(value).__name__}, not a number")


def _text(f: Field, text: Any, mark: str) -> str:
    s = str(text)
    if f.max_length and len(s) > f.max_length:
        raise ValueError(f"is {len(s)} characters long; at most {f.max_length} allowed")
    return s


def _integer(f: Field, text: Any, mark: str) -> int:
    try:
        d = Decimal(_number_text(text, mark))
    except ValueError:
        d = Decimal("NaN")
    if not d.is_finite() or d != d.to_integral_value():
        raise ValueError(f"{shown_cell(text)} is not a whole number")
    if abs(d) >= MAX_INTEGER:
        raise ValueError(f"{shown_cell(text)} is too large; a whole number here has at most 18 digits")
    return int(d)


def _decimal(f: Field, text: Any, mark: str) -> Decimal:
    d = Decimal(_number_text(text, mark))
    if not d.is_finite():
        raise ValueError(f"{shown_cell(text)} is not a finite number")
    return d


def _money(f: Field, text: Any, mark: str) -> Decimal:
    d = _decimal(f, text, mark)
    try:
        cents = d.quantize(_CENT)
    except InvalidOperation:  # more digits than Decimal's 28
        raise ValueError(f"{shown_cell(text)} is too large for an amount; write the amount as the bill shows it") from None
    if d != cents:
        raise ValueError(f"{shown_cell(text)} has more than 2 decimals")
    return cents


def _date(f: Field, text: Any, mark: str) -> dt.date:
    if isinstance(text, dt.datetime):
        if text.time() != dt.time(0):
            raise ValueError(f"{text.isoformat()!r} has a time of day; a date is needed")
        return text.date()
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str):
        raise ValueError(f"is the number {text}; write the date as text YYYY-MM-DD" if isinstance(text, (int, float, Decimal))
                         else f"is a {type(text).__name__}; write the date as text YYYY-MM-DD")
    try:
        if _ISO_DATE.fullmatch(text):  # fromisoformat also takes 20261215 and week dates
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{shown_cell(text)} is not a date; write it as YYYY-MM-DD")


def _locale(f: Field, text: Any, mark: str) -> str:
    if len(str(text)) > 40:  # no locale code is that long; parse_locale's message would quote all of it
        raise ValueError(f"{shown_cell(text)} is not a locale; use a code like 'it', 'fr_FR' or 'tr'")
    parse_locale(str(text))  # raises ValueError with a fix
    return str(text).replace("-", "_")


def _email(f: Field, text: Any, mark: str) -> str:
    if not _EMAIL.fullmatch(str(text)):
        raise ValueError(f"{shown_cell(text)} is not an e-mail address")
    return str(text)


def _numbers(f: Field, text: Any, mark: str) -> tuple[float, ...]:
    items = list(text) if isinstance(text, (list, tuple)) else [p for p in _LIST_SPLIT.split(str(text)) if p.strip()]
    out = []
    for i, item in enumerate(items, 1):
        try:
            v = float(_number_text(item.strip() if isinstance(item, str) else item, mark))
        except ValueError:
            raise ValueError(f"value {i} ({str(item).strip()!r}) is not a number; separate numbers with ';'") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"value {i} is not a finite number")
        out.append(v)
    if f.length and len(out) != f.length:
        raise ValueError(f"has {len(out)} values; exactly {f.length} expected, separated by ';'")
    return tuple(out)


# field type → its converter: (field, cell without surrounding spaces, decimal mark) → value, or ValueError
CONVERTERS = {"text": _text, "integer": _integer, "decimal": _decimal, "money": _money, "date": _date, "locale": _locale, "email": _email,
              "numbers": _numbers}


def _convert(f: Field, raw: Any, mark: str = ".") -> Any:
    """Typed value of one cell; ValueError with a fix-it message when it does not fit."""
    if isinstance(raw, str):
        text = raw.strip()
        control = _CONTROL.search(text)
        if control:
            c1 = "" if control.group() <= "\x7f" else "; an export read as latin-1 that is cp1252 has them (€ is 0x80 there): then pass --encoding cp1252"
            raise ValueError(f"holds the control character U+{ord(control.group()):04X} at character {control.start() + 1}; remove it from the export{c1}")
        mark_at = text.find("\ufeff")
        if mark_at >= 0:  # a byte order mark inside the file (two exports joined): invisible, and "R-1" would not equal it
            raise ValueError(f"holds a byte order mark (U+FEFF) at character {mark_at + 1}, where files joined together "
                             "meet; remove it (or export the file again in one piece)")
        half = _SURROGATE.search(text)
        if half:
            raise ValueError(f"holds U+{ord(half.group()):04X} at character {half.start() + 1}, half of a UTF-16 pair and no character; "
                             "fix that \\u escape in the export")
    elif isinstance(raw, bool) or (isinstance(raw, (list, tuple, dict)) and f.type != "numbers"):
        raise ValueError(f"is {'a list' if isinstance(raw, (list, tuple)) else 'an object' if isinstance(raw, dict) else str(raw).lower()}; "
                         f"one {f.type} value is needed here")
    else:
        text = raw
    convert = CONVERTERS.get(f.type)
    if convert is None:
        raise ValueError(f"unknown field type {f.type!r}")
    return convert(f, text, mark)


def validate_row(template: Template, row: int, raw: Mapping[str, Any], decimal: str = ".") -> Customer:
    """One row → Customer, or RowError for the first column that is wrong. ``decimal``: the export's decimal mark."""
    cid = raw.get("customer_id")
    cid = "" if cid is None or isinstance(cid, (bool, list, dict)) else str(cid).strip()
    values: dict[str, Any] = {}
    for f in template.fields:
        cell = raw.get(f.name)
        empty = cell is None or (isinstance(cell, str) and not cell.strip())
        if empty:
            if f.required:
                raise RowError(row, cid, f.name, f"is empty; every row needs {'an' if f.type[0] in 'aeiou' else 'a'} {f.type} here")
            values[f.name] = _convert(f, f.default) if f.default is not None else None
            continue
        try:
            values[f.name] = _convert(f, cell, decimal)
        except ValueError as exc:
            raise RowError(row, cid, f.name, str(exc)) from None
    locale = values["locale"]
    strings_locale = template.strings_locale(locale)
    if strings_locale is None:
        raise RowError(row, cid, "locale", f"template '{template.name}' has no strings for {locale!r} and no fallback_locale; add strings/{locale}.yaml or a fallback")
    return Customer(row, cid, locale, strings_locale, values)


def read_customers(template: Template, source: Path | str, options: InputOptions | None = None) -> Iterator[Customer | RowError]:
    """Every row of a CSV, JSONL or Parquet file (a path or s3://BUCKET/KEY), as Customer or RowError, in file order.

    Raises InputError now (before anything is read past the header) when the file cannot be used at all.
    """
    options = options or InputOptions()
    src = source_of(source, options.endpoint_url)
    if options.decimal not in DECIMAL_MARKS:
        raise InputError(src.location, f"decimal mark {options.decimal!r} is not one of {' '.join(DECIMAL_MARKS)}; pass --decimal . or --decimal ,")
    return _validated(template, open_rows(template, src, options.encoding), options.decimal)


def write_customers(path: Path | str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """A customers CSV as :func:`read_customers` reads it (UTF-8, a header row, ``\\n`` line ends): the sample
    files and the tests write theirs with it. Returns the number of rows written."""
    return write_input_csv(path, columns, rows)


def find_row(template: Template, source: Path | str, row: int, options: InputOptions | None = None) -> Customer:
    """The customer at ``row`` (numbered as in error reports); that row's RowError when it is invalid."""
    last = 0
    for item in read_customers(template, source, options):
        last = item.row
        if item.row == row:
            if isinstance(item, RowError):
                raise item
            return item
        if item.row > row:
            break
    raise InputError(str(source), f"no row {row} (rows are numbered as a spreadsheet shows them: the first customer of a CSV is row 2; "
                                  + (f"the last row here is {last})" if last else "this file has no customer rows)"))


def _validated(template: Template, rows: Iterator, decimal: str) -> Iterator[Customer | RowError]:
    seen = SeenIds()
    for item in rows:
        if isinstance(item, RowError):
            yield item
            continue
        n, rec = item
        try:
            cust = validate_row(template, n, rec, decimal)
        except RowError as err:
            yield err
            continue
        first = seen.first_row(cust.customer_id, n)
        if first is not None:
            yield RowError(n, cust.customer_id, "customer_id", f"duplicate customer id, first seen in row {first}; keep one row per customer")
            continue
        yield cust
