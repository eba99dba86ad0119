"""Customer rows: read a CRM export, check every row against the template's fields.

Rows are streamed (a billing run can have millions); each one comes out as a
``Customer`` or a ``RowError`` naming the row, the customer id and the column.
One bad row never stops the others.

Row numbers are the file's line numbers as a spreadsheet shows them: in a CSV
the header is row 1 and the first customer is row 2; in JSONL the first line is
row 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .csvfile import write_input_csv
from .errors import InputError, RowError
from .formatting import parse_locale
from .spec.model import Field, Template

_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")
_LIST_SPLIT = re.compile(r"[;|]")


@dataclass(frozen=True)
class Customer:
    row: int
    customer_id: str
    locale: str  # the row's locale, as given (formatting)
    strings_locale: str  # the strings table it uses (same, its language, or the fallback)
    values: Mapping[str, Any]


def _convert(f: Field, raw: Any) -> Any:
    """Typed value of one cell; ValueError with a fix-it message when it does not fit."""
    text = raw.strip() if isinstance(raw, str) else raw
    if f.type == "text":
        s = str(text)
        if f.max_length and len(s) > f.max_length:
            raise ValueError(f"is {len(s)} characters long; at most {f.max_length} allowed")
        return s
    if f.type == "integer":
        try:
            return int(str(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if f.type in ("decimal", "money"):
        try:
            d = Decimal(str(text).replace(" ", ""))
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number; write it like 84.20 (dot for decimals, no currency sign)") from None
        if not d.is_finite():
            raise ValueError(f"{text!r} is not a finite number")
        if f.type == "money":
            if d != d.quantize(Decimal("0.01")):
                raise ValueError(f"{text!r} has more than 2 decimals")
            d = d.quantize(Decimal("0.01"))
        return d
    if f.type == "date":
        if isinstance(text, dt.date):
            return text
        try:
            return dt.date.fromisoformat(str(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None
    if f.type == "locale":
        parse_locale(str(text))  # raises ValueError with a fix
        return str(text).replace("-", "_")
    if f.type == "email":
        if not _EMAIL.fullmatch(str(text)):
            raise ValueError(f"{text!r} is not an e-mail address")
        return str(text)
    if f.type == "numbers":
        items = text if isinstance(text, list) else [p for p in _LIST_SPLIT.split(str(text)) if p.strip()]
        out = []
        for i, item in enumerate(items, 1):
            try:
                v = float(str(item).strip())
            except ValueError:
                raise ValueError(f"value {i} ({str(item).strip()!r}) is not a number; separate numbers with ';'") from None
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError(f"value {i} is not a finite number")
            out.append(v)
        if f.length and len(out) != f.length:
            raise ValueError(f"has {len(out)} values; exactly {f.length} expected, separated by ';'")
        return tuple(out)
    raise ValueError(f"unknown field type {f.type!r}")


def validate_row(template: Template, row: int, raw: Mapping[str, Any]) -> Customer:
    """One row → Customer, or RowError for the first column that is wrong."""
    cid = str(raw.get("customer_id") or "").strip()
    values: dict[str, Any] = {}
    for f in template.fields:
        cell = raw.get(f.name)
        empty = cell is None or (isinstance(cell, str) and not cell.strip())
        if empty:
            if f.required:
                raise RowError(row, cid, f.name, f"is empty; every row needs a {f.type} here")
            values[f.name] = _convert(f, f.default) if f.default is not None else None
            continue
        try:
            values[f.name] = _convert(f, cell)
        except ValueError as exc:
            raise RowError(row, cid, f.name, str(exc)) from None
    locale = values["locale"]
    strings_locale = template.strings_locale(locale)
    if strings_locale is None:
        raise RowError(row, cid, "locale", f"template '{template.name}' has no strings for {locale!r} and no fallback_locale; add strings/{locale}.yaml or a fallback")
    return Customer(row, cid, locale, strings_locale, values)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise InputError(str(path), "empty file; the first line must be the column names")
        prev = 1
        for rec in reader:
            yield prev + 1, rec
            prev = reader.line_num


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
                continue
            yield n, rec if isinstance(rec, dict) else {"__error__": "each line must be a JSON object"}


def _check_columns(template: Template, path: Path) -> None:
    if path.suffix.lower() != ".csv":
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(io.StringIO(fh.readline())), [])
    missing = [f.name for f in template.fields if f.required and f.name not in header]
    if missing:
        raise InputError(str(path), f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} that template '{template.name}' requires; the header has: {', '.join(header)}")


def read_customers(template: Template, path: Path | str) -> Iterator[Customer | RowError]:
    """Every row of a CSV or JSONL file, as Customer or RowError, in file order.

    Raises InputError (before yielding anything) when the file cannot be used at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found; pass the CRM export with --customers")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise InputError(str(path), f"unsupported format {suffix!r}; export the CRM data as .csv or .jsonl")
    _check_columns(template, path)
    rows = _csv_rows(path) if suffix == ".csv" else _jsonl_rows(path)
    return _validated(template, rows)


def write_customers(path: Path | str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """A customers CSV as :func:`read_customers` reads it (UTF-8, a header row, ``\\n`` line ends): the sample
    files and the tests write theirs with it. Returns the number of rows written."""
    return write_input_csv(path, columns, rows)


def find_row(template: Template, path: Path | str, row: int) -> Customer:
    """The customer at ``row`` (numbered as in error reports); that row's RowError when it is invalid."""
    last = 0
    for item in read_customers(template, path):
        last = item.row
        if item.row == row:
            if isinstance(item, RowError):
                raise item
            return item
        if item.row > row:
            break
    raise InputError(str(path), f"no row {row} (rows are numbered as a spreadsheet shows them: the first customer of a CSV is row 2; the last row here is {last})")


def _validated(template: Template, rows: Iterator[tuple[int, dict]]) -> Iterator[Customer | RowError]:
    seen: dict[str, int] = {}
    for n, rec in rows:
        if "__error__" in rec:
            yield RowError(n, "", "", rec["__error__"])
            continue
        try:
            cust = validate_row(template, n, rec)
        except RowError as err:
            yield err
            continue
        first = seen.get(cust.customer_id)
        if first is not None:
            yield RowError(n, cust.customer_id, "customer_id", f"duplicate customer id, first seen in row {first}; keep one row per customer")
            continue
        seen[cust.customer_id] = n
        yield cust
