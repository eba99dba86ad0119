"""The billing system's payment records into the store: ``tailorcast results import-payments FILE``.

A CSV or a Parquet file with the columns below. A CSV is read the way ``tailorcast run`` reads a CRM export, by the
same reader (tailorcast/records.py, tailorcast/dialects.py): a header row; delimiter ``,`` ``;`` tab or ``|`` detected
(or Excel's ``sep=`` line); a byte order mark, else ``--encoding`` (default UTF-8); ``--decimal ,`` for amounts
written ``1.234,56``. The columns:

    ref (or invoice_ref / invoice_id)   the invoice reference  ─┐ at least one of the two per row
    customer_id                         the customer's id       ─┘ (the id is stored only as a keyed hash)
    paid_at                             2026-11-03 or 2026-11-03T09:40:00Z (no zone: UTC)
    amount                              128.48, or 1.234,56 with --decimal , (no currency sign)
    channel                             online, bank, counter, direct-debit … (letters, digits, - and _)
    currency                            optional, default EUR
    payment_id                          optional: the billing system's id of the payment

Every row is checked; a bad row (bytes that do not decode, a missing cell, a bad value) is reported with its
row number (CSV: the header is row 1; Parquet: the first record is row 1) and the others are imported. A record is stored once: its ``row_key`` is the digest
of ``payment_id`` when given, else of the whole record, so importing the same file again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import Engine, insert, select

from store.results import ResultsPayment
from tailorcast.dialects import DECIMAL_MARKS, number_text
from tailorcast.errors import InputError, PaymentError, ResultsInputError, RowError
from tailorcast.payments.amounts import DEFAULT_CURRENCY, check_currency, check_ref, to_cents
from tailorcast.records import open_table
from tailorcast.sources import Source

from .identity import customer_key

REF_COLUMNS = ("ref", "invoice_ref", "invoice_id")
REQUIRED = ("paid_at", "amount", "channel")
COLUMNS = (*REF_COLUMNS, "customer_id", *REQUIRED, "currency", "payment_id")  # every column the import reads
_CHANNEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PAYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_CHUNK = 500


@dataclass(frozen=True)
class PaymentRecord:
    row_key: str
    ref: str | None
    customer_key: str | None
    paid_at: dt.datetime
    amount_cents: int
    currency: str
    channel: str


@dataclass
class PaymentsImport:
    rows: int = 0
    added: int = 0
    already: int = 0
    rejected: list[RowError] = field(default_factory=list)


def read_payments(path: Path, encoding: str | None = None) -> Iterator[tuple[int, dict] | RowError]:
    """(row number, {column: cell}) of a CSV or Parquet payments file, or a RowError for a row that cannot be read;
    ResultsInputError when the file cannot be read at all. A CSV is read by the run's reader (tailorcast/records.py):
    byte order mark or ``encoding``, delimiter ``,`` ``;`` tab ``|`` or Excel's ``sep=`` line, a bad row costs one row."""
    path = Path(path)
    if not path.is_file():
        raise ResultsInputError(str(path), "no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path)
    if suffix != ".csv":
        raise ResultsInputError(str(path), f"'{suffix or '(no extension)'}' files are not read; export the payments as .csv or .parquet")
    if path.stat().st_size == 0:
        raise ResultsInputError(str(path), "empty file; the first line must be the column names")
    try:
        rows = open_table(Source(str(path)), COLUMNS, lambda header: _columns(path, header), encoding)
    except InputError as exc:
        raise ResultsInputError(str(path), exc.message) from None
    return _lowered(rows)


def _columns(path: Path, names: list[str]) -> None:
    have = {n.strip().lower() for n in names}
    missing = [c for c in REQUIRED if c not in have]
    if not have & {*REF_COLUMNS, "customer_id"}:
        missing.append("ref or customer_id")
    if missing:
        raise ResultsInputError(str(path), f"missing columns: {', '.join(missing)}; the file has {', '.join(sorted(have)) or 'none'} "
                                           "(see docs/results.md for the payments file)")


def _lowered(rows: Iterator) -> Iterator[tuple[int, dict] | RowError]:
    """Column names as the import reads them (``Paid_At`` is ``paid_at``); a row error without the row's customer id."""
    for item in rows:
        if isinstance(item, RowError):
            yield RowError(item.row, "", item.column.strip().lower(), item.reason)
        else:
            n, rec = item
            yield n, {k.strip().lower(): v for k, v in rec.items()}


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError subclasses for files that are not Parquet
        raise ResultsInputError(str(path), f"not a Parquet file ({type(exc).__name__}); export it again or as .csv") from None
    _columns(path, source.schema_arrow.names)
    n = 0
    for batch in source.iter_batches(batch_size=10_000):
        for rec in batch.to_pylist():
            n += 1
            yield n, {k.strip().lower(): v for k, v in rec.items()}


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _paid_at(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    text = _text(value)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"{text!r} is not a date; write it like 2026-11-03 or 2026-11-03T09:40:00Z")
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


def _amount(value, mark: str) -> int:
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (int, Decimal)):
        text = str(value)
    else:
        try:
            text = number_text(_text(value), mark)
        except ValueError as exc:
            raise ValueError(f"{exc}; an amount is more than 0, in whole cents") from None
    try:
        return to_cents(str(Decimal(text)))
    except (InvalidOperation, PaymentError) as exc:
        example = "1.234,56 (decimal comma)" if mark == "," else "128.48 (dot for decimals)"
        raise ValueError(f"{_text(value)!r} is not an amount; write it like {example}, more than 0, whole cents") from exc


def parse_record(row: int, rec: dict, secret: bytes, decimal: str = ".") -> PaymentRecord:
    """One row → PaymentRecord, or RowError (no customer id in it) for the first column that is wrong.
    ``decimal``: the file's decimal mark for amounts written as text (``,``: 1.234,56)."""
    ref = next((_text(rec.get(c)) for c in REF_COLUMNS if _text(rec.get(c))), "")
    cid = _text(rec.get("customer_id"))
    if not ref and not cid:
        raise RowError(row, "", "ref", "has neither an invoice reference nor a customer id; every payment needs one of them")
    column = "ref"
    try:
        if ref:
            check_ref(ref)
        column = "paid_at"
        paid_at = _paid_at(rec.get("paid_at"))
        column = "amount"
        cents = _amount(rec.get("amount"), decimal)
        column = "currency"
        currency = check_currency(_text(rec.get("currency")).upper() or DEFAULT_CURRENCY)
        column = "channel"
        channel = _text(rec.get("channel")).lower()
        if not _CHANNEL.fullmatch(channel):
            raise ValueError(f"{channel!r} is not a channel; use a short name like online, bank, counter or direct-debit")
        column = "payment_id"
        payment_id = _text(rec.get("payment_id"))
        if payment_id and not _PAYMENT_ID.fullmatch(payment_id):
            raise ValueError("is not an id: use up to 128 letters, digits and . _ : / -")
    except (ValueError, PaymentError) as exc:
        reason = exc.message if isinstance(exc, PaymentError) else str(exc)
        raise RowError(row, "", column, reason) from None
    key = customer_key(secret, cid) if cid else None
    identity = f"id\n{payment_id}" if payment_id else f"record\n{ref}\n{key or ''}\n{paid_at.isoformat()}\n{cents}\n{currency}\n{channel}"
    return PaymentRecord(hashlib.sha256(identity.encode()).hexdigest(), ref or None, key, paid_at, cents, currency, channel)


ERROR_FIELDS = ("row", "column", "reason")  # the rejected rows' report (--errors): no customer id in it


def error_rows(rejected: list[RowError]) -> list[dict]:
    return [{"row": e.row, "column": e.column, "reason": e.reason} for e in rejected]


def import_payments(engine: Engine, path: Path, secret: bytes, now: dt.datetime, encoding: str | None = None, decimal: str = ".") -> PaymentsImport:
    """Read, check and store every good row of ``path``; rows already stored (same ``row_key``) are counted, not added.
    ``encoding`` and ``decimal`` say how a CSV is written, as ``--encoding`` and ``--decimal`` do for ``tailorcast run``."""
    if decimal not in DECIMAL_MARKS:
        raise ResultsInputError(str(path), f"decimal mark {decimal!r} is not one of {' '.join(DECIMAL_MARKS)}; pass --decimal . or --decimal ,")
    result = PaymentsImport()
    batch: list[PaymentRecord] = []

    def flush() -> None:
        by_key = {r.row_key: r for r in batch}
        with engine.begin() as conn:
            seen = set(conn.execute(select(ResultsPayment.row_key).where(ResultsPayment.row_key.in_(list(by_key)))).scalars())
            new = [{"row_key": r.row_key, "ref": r.ref, "customer_key": r.customer_key, "paid_at": r.paid_at, "amount_cents": r.amount_cents,
                    "currency": r.currency, "channel": r.channel, "imported_at": now} for k, r in by_key.items() if k not in seen]
            if new:
                conn.execute(insert(ResultsPayment), new)
        result.added += len(new)
        result.already += len(batch) - len(new)
        batch.clear()

    for item in read_payments(path, encoding):
        result.rows += 1
        if isinstance(item, RowError):
            result.rejected.append(item)
            continue
        row, rec = item
        try:
            batch.append(parse_record(row, rec, secret, decimal))
        except RowError as exc:
            result.rejected.append(exc)
        if len(batch) >= _CHUNK:
            flush()
    if batch:
        flush()
    return result
