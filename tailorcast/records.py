"""The rows of a customers file as (row number, cells), streamed: CSV as billing systems write it, JSONL, Parquet.

    open_rows(template, source, encoding) -> iterator of (row, {column: cell}) or RowError
    open_table(source, names, check_header, encoding) -> the same for another CSV (the billing system's payments)

What is wrong with the whole file (it is empty, a required column is missing, a Parquet column has a type
no cell could be read from) raises InputError when ``open_rows`` is called, before any row is read. What one
row gets wrong (bytes that do not decode, too few or too many cells, a quote that is never closed, a line
that is not JSON, an unreadable Parquet row group) is a RowError for that row; the rows after it are read
as usual. Memory stays flat: one CSV or JSONL record, one Parquet batch (``BATCH`` rows) at a time.

Row numbers are those a spreadsheet shows: the CSV header is row 1 and a cell with a line break stays in
its row; the first line of a JSONL file and the first record of a Parquet file are row 1.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from decimal import Decimal
from collections.abc import Callable, Collection
from typing import Any, BinaryIO, Iterator

from .dialects import ENCODING_HINT, UTF8_BOM, detect_delimiter, encoding_for, encoding_name, has_undecoded, row_bytes_handler, sep_line, undecoded
from .errors import InputError, RowError
from .sources import Source
from .spec.model import Template

FORMATS = (".csv", ".jsonl", ".parquet")
BATCH = 4096  # Parquet rows converted to Python at a time
MAX_RECORD_LINES = 50  # a CSV record over more lines than this is an unclosed quote, not an address
MAX_LINE = 1 << 20  # characters (CSV) or bytes (JSONL) in one line: a longer one is a row error, never held whole
ID = "customer_id"

Row = tuple[int, dict[str, Any]]
_UNCLOSED = "has a '\"' that is never closed, so its cell ran over the next lines; close the quote or remove it (the next rows are read on their own)"
_EMPTY = "the file is empty: no header row and no customers; export the customers again"
_TOO_LONG = "is longer than {limit:,} {unit}, so it was skipped; is a line end missing?"


class _LineTooLong(Exception):
    """A line longer than MAX_LINE; what was left of it has been read past."""


def _line(read):
    """The next line from ``read`` (a readline), at most MAX_LINE long; _LineTooLong after skipping the rest of a longer one."""
    limit = MAX_LINE
    line = read(limit)
    if len(line) < limit or line[-1:] in ("\n", "\r", b"\n", b"\r"):
        return line
    while True:
        rest = read(limit)
        if not rest or rest[-1:] in ("\n", "\r", b"\n", b"\r"):
            raise _LineTooLong()


def open_rows(template: Template, source: Source, encoding: str | None = None) -> Iterator[Row | RowError]:
    """The rows of ``source``; InputError now if the file cannot be used at all."""
    if source.suffix not in FORMATS:
        raise InputError(source.location, f"unsupported format {source.suffix or '(no extension)'!r}; export the CRM data as .csv, .jsonl or .parquet")
    if source.suffix == ".parquet":
        return _parquet_rows(template, source)
    fh = source.open()
    try:
        return (_csv_rows if source.suffix == ".csv" else _jsonl_rows)(template, fh, source.location, encoding)
    except BaseException:
        fh.close()
        raise


def _missing_columns(template: Template, where: str, names: list[str]) -> None:
    missing = [f.name for f in template.fields if f.required and f.name not in names]
    if missing:
        near = {_plain(n): n for n in names}
        close = [f"{near[_plain(m)]!r} for {m!r}" for m in missing if _plain(m) in near]
        hint = f" ({'; '.join(close[:5])}: column names must match exactly, in case, spaces and invisible characters)" if close else ""
        raise InputError(where, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} that template '{template.name}' requires"
                                f"{hint}; the header has: {_some(names)}")


def _plain(name: str) -> str:
    """A column name without case, spaces, quotes and invisible characters: to say what a near miss differs in."""
    return re.sub(r"[\s\"'\u200b-\u200f\u2060\ufeff\x00-\x1f]", "", name).casefold()


def _named_twice(names: list[str]) -> list[str]:
    """Column names that occur more than once (not ``names.count``: a header may have 100,000 columns)."""
    return sorted(n for n, k in Counter(names).items() if k > 1)


def _some(names: list[str], most: int = 50) -> str:
    """Column names for a message: the first ``most`` (a header of 100,000 columns is not a message)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most:,} more"


# CSV


class _Lines:
    """The lines csv.reader reads, remembering those of the record being read, so they can be read again."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self._again: list[str] = []
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.pop() if self._again else _line(self._text.readline)
        if not line:
            raise StopIteration
        self.record.append(line)
        return line

    def read_again(self, lines: list[str]) -> None:
        self._again.extend(reversed(lines))


def _header(text: io.TextIOBase, where: str) -> tuple[str, str | None]:
    """The header line and the delimiter an Excel ``sep=`` line names (or None)."""
    try:
        line = _line(text.readline)
        named = sep_line(line)
        if named:
            line = _line(text.readline)
    except _LineTooLong:
        raise InputError(where, f"the first line is longer than {MAX_LINE:,} characters; is this a CSV file with the column names on its first line?") from None
    if not line.strip():
        if not line or not text.read(1 << 16).strip():
            raise InputError(where, _EMPTY)
        raise InputError(where, "the first line is blank; the column names must be on the first line")
    return line, named


def open_table(source: Source, names: Collection[str], check_header: Callable[[list[str]], None], encoding: str | None = None) -> Iterator[Row | RowError]:
    """The rows of a CSV file that is not a customers file (the billing system's payments, results/payments.py), read
    exactly like one: encoding, delimiter (``names``: the columns it may have), row errors, streaming.
    ``check_header(header)`` raises for a header that cannot be used."""
    fh = source.open()
    try:
        return _csv_table(fh, source.location, encoding, names, check_header)
    except BaseException:
        fh.close()
        raise


def _csv_rows(template: Template, fh: BinaryIO, where: str, encoding: str | None) -> Iterator[Row | RowError]:
    return _csv_table(fh, where, encoding, [f.name for f in template.fields], lambda header: _missing_columns(template, where, header))


def _csv_table(fh: BinaryIO, where: str, encoding: str | None, names: Collection[str], check_header: Callable[[list[str]], None]) -> Iterator[Row | RowError]:
    enc = encoding_for(fh.peek(4)[:4], encoding, where)
    text = io.TextIOWrapper(fh, encoding=enc, errors=row_bytes_handler(), newline="")
    line, named = _header(text, where)
    delimiter = named or detect_delimiter(line, names)
    if line.count("\x00") > len(line) // 4:  # every other byte of a column name is 0: UTF-16 (or UTF-32) without its byte order mark
        raise InputError(where, "the header row holds NUL characters, so the file is probably UTF-16 without a byte order mark; "
                                "pass --encoding utf-16-le (or utf-16-be), or save it as UTF-8")
    try:
        header = [c.strip().strip("\ufeff") for c in next(csv.reader([line], delimiter=delimiter))]  # a second byte order mark: files joined
    except csv.Error as exc:
        raise InputError(where, f"the header row cannot be read as CSV ({exc}); is this a CSV file with the column names on its first line?") from None
    bad = undecoded(line, enc)
    if bad:
        raise InputError(where, f"the header row has {bad}; if the export is not UTF-8, pass --encoding {ENCODING_HINT}")
    dupes = _named_twice([h for h in header if h])  # empty names: trailing delimiters, Excel writes them
    if dupes:
        raise InputError(where, f"the header names {', '.join(dupes)} more than once; keep one column of each name")
    check_header(header)
    return _csv_records(text, header, delimiter, enc)


def _encoding_hint(encoding: str) -> str:
    if encoding_name(encoding) in ("UTF-8", "utf-16", "utf-32"):
        return f"if the whole export is in another encoding, pass --encoding {ENCODING_HINT}"
    return f"no character has that byte in {encoding_name(encoding)}: check that --encoding names the export's encoding"


def _cell_id(cells: list[str], at: int | None) -> str:
    if at is None or at >= len(cells) or has_undecoded(cells[at]):
        return ""
    return cells[at].strip()


def _first_line_id(line: str, delimiter: str, at: int | None) -> str:
    try:
        cid = _cell_id(next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), []), at)
        return "" if delimiter in cid or "\n" in cid or "\r" in cid else cid  # the unclosed quote's cell: the rest of the line, not an id
    except csv.Error:  # a cell over the size limit: the cells before the id's are plain, most likely
        return _cell_id(line.split(delimiter, (at or 0) + 1), at).strip('"') if at is not None else ""


def _csv_records(text: io.TextIOWrapper, header: list[str], delimiter: str, encoding: str) -> Iterator[Row | RowError]:
    width = len(header)
    at = header.index(ID) if ID in header else None
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    row = 1
    with text:
        while True:
            lines.record = []
            try:
                cells = next(reader)
                ran_over = len(lines.record) > 1 and (len(cells) != width or len(lines.record) > MAX_RECORD_LINES)
                open_at_end = len(cells) != width and cells[-1:] != [] and cells[-1].endswith(("\n", "\r"))  # the quote met the end of the file
                problem = _UNCLOSED if ran_over or open_at_end else ""
            except StopIteration:
                return
            except _LineTooLong:
                row += 1
                yield RowError(row, "", "", _TOO_LONG.format(limit=MAX_LINE, unit="characters"))
                reader = csv.reader(lines, delimiter=delimiter)
                continue
            except csv.Error as exc:
                if len(lines.record) > 1:
                    problem = _UNCLOSED
                elif "field larger than field limit" in str(exc):  # a plain cell can be that long too: no quote to check
                    problem = f"has a cell longer than {csv.field_size_limit():,} characters; is a delimiter or a line end missing?"
                else:
                    problem = f"cannot be read as CSV ({exc}); check the quotes in this row"
            row += 1
            if problem:
                yield RowError(row, _first_line_id(lines.record[0], delimiter, at) if lines.record else "", "", problem)
                lines.read_again(lines.record[1:])
                reader = csv.reader(lines, delimiter=delimiter)
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank row (Excel writes ';;;;' for one)
            if cells == header:
                yield RowError(row, "", "", "repeats the header row (two exports joined into one file?); remove this line")
                continue
            cid = _cell_id(cells, at)
            if has_undecoded("".join(cells)):
                column, cell = next((h, c) for h, c in zip(header + [""] * len(cells), cells, strict=False) if has_undecoded(c))
                yield RowError(row, cid, column, f"{undecoded(cell, encoding)}; {_encoding_hint(encoding)}")
                continue
            if len(cells) < width:
                missing = header[len(cells):]
                yield RowError(row, cid, missing[0], f"has {len(cells)} cells but the header has {width}: none for {', '.join(missing)}; "
                                                     "write an empty cell where a value is missing")
                continue
            if len(cells) > width:  # even when the extra cells are empty: the others may have moved one column over
                yield RowError(row, cid, "", f"has {len(cells)} cells but the header has {width}; a cell probably holds the delimiter "
                                             f"{delimiter!r} without quotes around it")
                continue
            yield row, dict(zip(header, cells, strict=True))


# JSONL


def _jsonl_rows(template: Template, fh: BinaryIO, where: str, encoding: str | None) -> Iterator[Row | RowError]:
    enc = encoding_for(fh.peek(4)[:4], encoding, where)
    if enc in ("utf-16", "utf-32"):
        raise InputError(where, f"JSON Lines must be UTF-8 (this file is {enc.upper()}); save it as UTF-8")
    first: tuple[int, bytes | None] | None = None
    n = 0
    while first is None:
        n += 1
        try:
            raw = _line(fh.readline)
        except _LineTooLong:
            first = n, None
            break
        if not raw:
            break
        if not _blank(raw):
            first = n, raw
    if first is None:
        fh.close()
        raise InputError(where, _EMPTY)
    return _jsonl_records(fh, first, enc)


def _blank(raw: bytes) -> bool:
    return not raw.strip().removeprefix(UTF8_BOM).strip()


def _jsonl_records(fh: BinaryIO, first: tuple[int, bytes | None], encoding: str) -> Iterator[Row | RowError]:
    n, raw = first
    with fh:
        while True:
            if raw is None:
                yield RowError(n, "", "", _TOO_LONG.format(limit=MAX_LINE, unit="bytes"))
            elif not _blank(raw):
                yield _json_record(n, raw, encoding)
            try:
                raw = _line(fh.readline)
            except _LineTooLong:
                raw = None
            if raw == b"":
                return
            n += 1


_JSON_TYPES = {str: "string", int: "number", float: "number", Decimal: "number", bool: "boolean", type(None): "null"}  # not Python's names


class _TwiceNamed(ValueError):
    """A JSON object with a key twice: which value the export meant is a guess."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    rec = dict(pairs)
    if len(rec) != len(pairs):
        seen: set[str] = set()
        raise _TwiceNamed(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return rec


def _json_record(n: int, raw: bytes, encoding: str) -> Row | RowError:
    try:
        line = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return RowError(n, "", "", f"byte 0x{raw[exc.start]:02x} (byte {exc.start + 1} of the line) is not {encoding_name(encoding)} text; "
                                   "JSON Lines must be UTF-8")
    try:
        rec = json.loads(line, parse_float=Decimal, object_pairs_hook=_object)
    except _TwiceNamed as exc:
        return RowError(n, "", str(exc), "names this key twice (JSON keeps only the last); write each key once per line")
    except json.JSONDecodeError as exc:
        lone_cr = "\r" in line.rstrip("\r\n").replace("\r\n", "")
        hint = ("; its lines end in a carriage return alone (an old Mac's line ends): save the file with line feeds"
                if lone_cr and exc.msg == "Extra data" else "; each line must be one JSON object")
        return RowError(n, "", "", f"not valid JSON ({exc.msg} at column {exc.colno}){hint}")
    except ValueError:  # Python reads no integer of more than 4,300 digits
        return RowError(n, "", "", "not usable JSON (a number has more than 4,300 digits); write the values as the bill shows them")
    except RecursionError:
        return RowError(n, "", "", "not usable JSON (lists or objects nested too deep); each line must be one JSON object of plain values")
    if not isinstance(rec, dict):
        return RowError(n, "", "", f"is a JSON {_JSON_TYPES.get(type(rec), type(rec).__name__)}; each line must be one JSON object")
    return n, rec


# Parquet

_WANTS = {
    "text": "text",
    "integer": "a whole number (an integer column, or text)",
    "decimal": "a number (integer, float, decimal, or text)",
    "money": "a number (decimal, integer, float, or text)",
    "date": "a date (date32, timestamp, or text as YYYY-MM-DD)",
    "locale": "text",
    "email": "text",
    "numbers": "a list of numbers (or text like 1;2;3)",
}


def _fits(kind: str, t) -> bool:
    """Whether a cell of Arrow type ``t`` can hold a value of a template field of type ``kind``."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    text = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    whole = pa.types.is_integer(t)
    if pa.types.is_null(t) or text:
        return True
    if kind in ("text", "integer"):
        return whole or pa.types.is_decimal(t)
    if kind in ("decimal", "money"):
        return whole or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if kind == "date":
        return pa.types.is_date(t) or pa.types.is_timestamp(t)
    if kind == "numbers":
        return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) and (
            pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type) or pa.types.is_decimal(t.value_type))
    return False


def _parquet_rows(template: Template, source: Source) -> Iterator[Row | RowError]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = source.location
    if source.is_s3:
        fh = source.open()
    else:
        source.check()
        fh = source.location
    try:
        # buffer_size: read column chunks page by page, so memory does not follow the row group's size
        pf = pq.ParquetFile(fh, buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(where, f"not a readable Parquet file ({' '.join(str(exc).split())}); export it again, or as .csv") from None  # one line
    schema = pf.schema_arrow
    dupes = _named_twice(schema.names)
    if dupes:
        raise InputError(where, f"the file has column {', '.join(dupes)} more than once; keep one column of each name")
    _missing_columns(template, where, schema.names)
    wrong = [f"column '{f.name}' is {schema.field(f.name).type}, but template '{template.name}' reads it as {_WANTS.get(f.type, f.type)}"
             for f in template.fields if f.name in schema.names and not _fits(f.type, schema.field(f.name).type)]
    if wrong:
        raise InputError(where, "; ".join(wrong) + "; write the column with a type that fits, or as text")
    wanted = {f.name for f in template.fields} | {ID}
    columns = [n for n in schema.names if n in wanted]
    return _parquet_records(pf, columns)


def _parquet_records(pf, columns: list[str]) -> Iterator[Row | RowError]:
    import pyarrow as pa

    row = 0
    for group in range(pf.num_row_groups):
        size, done = pf.metadata.row_group(group).num_rows, 0
        try:
            for batch in pf.iter_batches(batch_size=BATCH, row_groups=[group], columns=columns, use_threads=False):
                for rec in _batch_records(batch):
                    row += 1
                    done += 1
                    yield (row, rec) if isinstance(rec, dict) else RowError(row, *rec)
        except (pa.ArrowException, OSError) as exc:
            reason = f"is in Parquet row group {group}, which cannot be read ({' '.join(str(exc).split())}); export the file again"
            for _ in range(size - done):
                row += 1
                yield RowError(row, "", "", reason)


def _narrow_floats_as_text(batch):
    """float16/float32 columns as Arrow writes them (the shortest text that reads back: 69.3), not as Python's
    float64 of the same bits (69.30000305175781: "more than 2 decimals" for an amount that has one)."""
    import pyarrow as pa

    if not any(pa.types.is_float16(c.type) or pa.types.is_float32(c.type) for c in batch.columns):
        return batch
    return pa.RecordBatch.from_arrays([c.cast(pa.string()) if pa.types.is_float16(c.type) or pa.types.is_float32(c.type) else c
                                       for c in batch.columns], names=batch.schema.names)


def _batch_records(batch) -> Iterator[dict[str, Any] | tuple[str, str, str]]:
    """A batch's rows as dicts; (customer id, column, reason) for a row with a cell Python cannot hold (a date
    past year 9999, text that is not UTF-8), so that it costs its row only."""
    batch = _narrow_floats_as_text(batch)
    try:
        records = batch.to_pylist()
    except (ArithmeticError, ValueError):
        pass
    else:
        yield from records
        return
    for i in range(batch.num_rows):
        rec: dict[str, Any] = {}
        bad: tuple[str, str] | None = None
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                rec[name] = column[i].as_py()
            except (ArithmeticError, ValueError) as exc:
                bad = bad or (name, _unreadable(column.type, exc))
        if bad is None:
            yield rec
        else:
            cid = rec.get(ID)
            yield ("" if cid is None else str(cid).strip(), *bad)


def _unreadable(t, exc: Exception) -> str:
    import pyarrow as pa

    if isinstance(exc, UnicodeDecodeError):
        return f"holds bytes that are not UTF-8 text ({exc.reason}); export the file again"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return f"is a date outside 0001-01-01 to 9999-12-31 ({exc}); check the dates in the export"
    return f"cannot be read ({exc}); export the file again"


def count_rows(source: Source) -> int | None:
    """How many rows ``source`` holds, when that is cheap to know (for a progress bar): a Parquet file's
    metadata; the lines of a local CSV (less the header) or JSONL file; None for a CSV or JSONL object in
    S3 (counting would read it all once more) or a file that cannot be read."""
    try:
        if source.suffix == ".parquet":
            import pyarrow.parquet as pq

            with source.open() if source.is_s3 else open(source.location, "rb") as fh:
                return pq.ParquetFile(fh).metadata.num_rows
        if source.is_s3 or source.suffix not in FORMATS:
            return None
        with source.open() as fh:
            n = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except Exception:  # a count is only a hint; reading the file reports what is wrong with it
        return None
    return max(n - 1, 0) if source.suffix == ".csv" else n
