"""Every CSV the project writes, in one place, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets: a back-office user who opens an export would run it. ``csv_bytes`` and
``write_csv`` prefix such a cell with ``'`` (the spreadsheets' "this is text" mark) unless it is a plain
number (``-12.50`` cannot be a formula and stays a number). ``write_input_csv`` writes a file that
Tailorcast itself reads back (sample customers), byte for byte, so it is never neutralized.
``read_rows`` reads such a CSV back with the guard undone (a token may start with ``-``), for the project's own readers.
``tests/test_hardening_csv.py`` fails when a ``csv.writer``/``csv.DictWriter`` appears in the project's packages.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralize(value: Any) -> Any:
    """``value`` as a spreadsheet shows it as text: ``'`` before a cell that would start a formula."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def restore(value: str | None) -> str:
    """A cell as it was before ``neutralize``: ``'-abc`` → ``-abc``; anything else unchanged."""
    text = value or ""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def read_rows(text: str) -> Iterator[dict[str, str]]:
    """The records of a CSV written by ``csv_bytes``/``write_csv``, as dicts, with ``restore`` applied to every cell."""
    for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))):
        yield {k: restore(v) for k, v in row.items()}


def _field(value: Any) -> str:
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _line(cells: Sequence[Any]) -> str:
    """One RFC 4180 record with a ``\n`` line end. Python 3.11's csv writer leaves a lone ``\r`` unquoted when the
    line end is ``\n``, which splits the record in every reader, so the quoting is done here."""
    if len(cells) == 1 and _field(cells[0]) == "":
        return '""\n'  # a blank line would be no record at all
    return ",".join(_field(c) for c in cells) + "\n"


def _write(fh: TextIO, fields: Sequence[str], rows: Iterable[Mapping[str, Any]], safe: bool) -> int:
    cell = neutralize if safe else (lambda v: v)
    fh.write(_line([cell(f) for f in fields]))
    n = 0
    for row in rows:
        fh.write(_line([cell(row.get(f)) for f in fields]))
        n += 1
    return n


def csv_bytes(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """UTF-8 CSV (header row, ``\\n`` line ends) of ``rows`` for people to open; keys not in ``fields`` are left out."""
    buf = io.StringIO()
    _write(buf, fields, rows, safe=True)
    return buf.getvalue().encode()


def write_csv(path: Path | str, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """``csv_bytes`` streamed to a file; returns the number of rows written."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        return _write(fh, fields, rows, safe=True)


def write_input_csv(path: Path | str, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """A CSV that Tailorcast reads back as input (cells unchanged); returns the number of rows written."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        return _write(fh, fields, rows, safe=False)
