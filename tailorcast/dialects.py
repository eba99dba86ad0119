"""How billing systems write text and numbers: the encoding of the bytes, the CSV delimiter, decimal commas.

A file's dialect is decided once, from its first bytes and its header line:

- **encoding**: a byte order mark wins (UTF-8, or UTF-16 as Excel's "Unicode text" writes it); otherwise
  ``--encoding`` (cp1252, latin-1…) or UTF-8. Bytes that do not decode become lone surrogates
  (U+DC00 + byte, :data:`ROW_BYTES`), so the row that holds them, and only that row, is reported.
- **delimiter**: ``,`` ``;`` tab or ``|``: the one that splits the header into the most of the template's
  columns (an Excel ``sep=;`` first line says it outright).
- **decimal mark**: ``.`` (84.20) or ``,`` (1.234,56). The operator says which (``--decimal``): a cell
  cannot tell, since ``1.234`` is a thousand in one and one and a bit in the other.
"""

from __future__ import annotations

import codecs
import csv
import functools
import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from .errors import InputError

DELIMITERS = (",", ";", "\t", "|")
DECIMAL_MARKS = (".", ",")
UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
ENCODING_HINT = "cp1252 (Excel on Windows) or latin-1"

_SEP_LINE = re.compile(r"sep=(.)\r?\n?")
_UNDECODED = re.compile("[\udc00-\udcff]")
_SPACES = str.maketrans("", "", " \u00a0\u202f")  # thousands spaces: plain, no-break, narrow no-break
_POINT_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")


def _keep_row_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


@functools.cache
def row_bytes_handler() -> str:
    """The name of the decode error handler that keeps undecodable bytes as U+DC00 + byte (registered once)."""
    codecs.register_error("tailorcast.row-bytes", _keep_row_bytes)
    return "tailorcast.row-bytes"


def check_encoding(name: str, where: str) -> str:
    """``name`` if Python knows that encoding and can read text line by line with it; InputError with examples otherwise."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputError(where, f"unknown encoding {name!r}; name the export's character set, e.g. {ENCODING_HINT}, or leave out --encoding for UTF-8") from None
    try:  # rot13, base64, zlib… are codecs but not character sets; idna cannot keep undecodable bytes; utf-16 needs its byte order mark
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(name)
        codecs.getincrementaldecoder(name)(errors=row_bytes_handler()).decode(b"customer_id;\xff\r\n")
    except Exception:  # noqa: BLE001 - whatever the codec says, it cannot read an export line by line
        raise InputError(where, f"--encoding {name} is not a character set a customers file can be read in; name the export's character set, "
                                f"e.g. {ENCODING_HINT} (utf-16-le or utf-16-be for UTF-16 without a byte order mark), or leave out --encoding for UTF-8") from None
    return name


def encoding_for(head: bytes, requested: str | None, where: str) -> str:
    """The codec for a file that starts with ``head``: its byte order mark, else ``requested``, else UTF-8."""
    if head.startswith(UTF8_BOM):
        if requested and codecs.lookup(check_encoding(requested, where)).name != "utf-8":
            raise InputError(where, f"the file starts with a UTF-8 byte order mark, so it is UTF-8 text; leave out --encoding {requested}")
        return "utf-8-sig"
    if head.startswith(UTF32_BOMS):  # before UTF-16: the UTF-32 LE mark starts with the UTF-16 LE one
        return "utf-32"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    return check_encoding(requested, where) if requested else "utf-8"


def sep_line(line: str) -> str | None:
    """The delimiter named by an Excel ``sep=;`` first line, or None."""
    m = _SEP_LINE.fullmatch(line)
    return m.group(1) if m else None


def detect_delimiter(header_line: str, names: Collection[str]) -> str:
    """The delimiter that splits ``header_line`` into the most of ``names`` (then into the most cells)."""
    def score(d: str) -> tuple[int, int, int]:
        try:
            cells = [c.strip() for c in next(csv.reader([header_line], delimiter=d), [])]
        except csv.Error:  # a "cell" over the size limit: the header of 100,000 columns, split by another delimiter
            return -1, 0, -DELIMITERS.index(d)
        return sum(c in names for c in cells), len(cells), -DELIMITERS.index(d)

    return max(DELIMITERS, key=score)


def encoding_name(encoding: str) -> str:
    """How a message names an encoding: UTF-8 (with or without its byte order mark), cp1252, iso8859-1…"""
    name = codecs.lookup(encoding).name
    return "UTF-8" if name in ("utf-8", "utf-8-sig") else name


def undecoded(text: str, encoding: str) -> str | None:
    """What in ``text`` did not decode ("bytes 0xe9 0x81 are not UTF-8"), or None when it all did."""
    found = [ord(c) - 0xDC00 for c in _UNDECODED.findall(text)]
    if not found:
        return None
    shown = " ".join(f"0x{b:02x}" for b in found[:4]) + (" …" if len(found) > 4 else "")
    return f"byte{'s' if len(found) > 1 else ''} {shown} {'are' if len(found) > 1 else 'is'} not {encoding_name(encoding)} text"


def has_undecoded(text: str) -> bool:
    return _UNDECODED.search(text) is not None


def shown_cell(value: Any) -> str:
    """A cell as a message quotes it: text in quotes, a number from JSON or Parquet as written (not ``Decimal('12.5')``);
    a long one cut, so that the error report's line stays a line."""
    text = str(value)
    if len(text) > 40:
        text = f"{text[:30]}… ({len(text):,} characters)"
    return repr(text) if isinstance(value, str) else text


def number_text(text: str, mark: str = ".") -> str:
    """A number as the export writes it, as plain text for Decimal or float: ``84.20`` with ``mark`` ``.``;
    ``1.234,56`` or ``84,20`` with ``,``. Spaces between thousands are allowed in both; ValueError says how
    to write the number otherwise."""
    s = text.strip()
    if " " in s or "\u00a0" in s or "\u202f" in s:
        s = s.translate(_SPACES)
    if mark == ",":
        if not _COMMA_NUMBER.fullmatch(s):
            raise ValueError(f"{shown_cell(text)} is not a number with a decimal comma; write it like 1.234,56 or 84,20 (no currency sign), "
                             "or leave out --decimal , if the export writes 84.20")
        return s.replace(".", "").replace(",", ".")
    if not _POINT_NUMBER.fullmatch(s):
        hint = "; if the export writes decimal commas (84,20), pass --decimal ," if "," in s else ""
        raise ValueError(f"{shown_cell(text)} is not a number; write it like 84.20 (dot for decimals, no currency sign){hint}")
    return s


def parse_decimal(text: str, mark: str = ".") -> Decimal:
    """:func:`number_text` as a Decimal."""
    return Decimal(number_text(text, mark))
