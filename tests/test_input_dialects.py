"""Dialects and hostile bytes, one behaviour at a time: decimal marks, delimiters, encodings, quotes, NULs,
huge cells, Parquet types and unreadable row groups, the compact set of seen ids."""

from __future__ import annotations

import codecs
import datetime as dt
import io
from decimal import Decimal

import pytest

from tailorcast.customers import Customer, InputOptions, read_customers
from tailorcast.dialects import detect_delimiter, encoding_for, parse_decimal
from tailorcast.errors import InputError, RowError

from helpers.samples import SAMPLE_CSV

HEADER = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0]
LINES = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[1:6]  # CUST-00001 … 00005, all valid


def _read(template, tmp_path, data: bytes, name: str = "x.csv", **options) -> list:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_customers(template, path, InputOptions(**options)))


def _report(items) -> list[tuple]:
    return [(i.row, i.customer_id, i.column) if isinstance(i, RowError) else (i.row, "ok") for i in items]


@pytest.mark.parametrize("text,mark,value", [
    ("84.20", ".", "84.20"), ("-3.5", ".", "-3.5"), (".5", ".", "0.5"), ("1 234.56", ".", "1234.56"), ("1\u202f234.56", ".", "1234.56"),
    ("84,20", ",", "84.20"), ("1.234,56", ",", "1234.56"), ("1.234.567", ",", "1234567"), ("1234,5", ",", "1234.5"), ("1 234,56", ",", "1234.56"),
    ("-0,01", ",", "-0.01"), ("7", ",", "7"),
])
def test_numbers_as_exports_write_them(text, mark, value):
    assert parse_decimal(text, mark) == Decimal(value)


@pytest.mark.parametrize("text,mark,fix", [
    ("84,20", ".", "pass --decimal ,"), ("1,234.56", ".", "pass --decimal ,"), ("12€", ".", "write it like 84.20"), ("1e3", ".", "write it like 84.20"),
    ("NaN", ".", "write it like 84.20"), ("84.20", ",", "leave out --decimal ,"), ("1.23,4", ",", "write it like 1.234,56"), ("1,2,3", ",", "decimal comma"),
    ("84.20\n", ".", "write it like 84.20"),
])
def test_numbers_that_do_not_fit_the_mark_say_how_to_fix(text, mark, fix):
    with pytest.raises(ValueError) as err:
        parse_decimal(text.rstrip("\n") + "x" if text.endswith("\n") else text, mark)
    assert fix in str(err.value)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_the_header_into_the_template_columns(template, delimiter):
    names = [f.name for f in template.fields]
    assert detect_delimiter(delimiter.join(names) + "\r\n", names) == delimiter
    # a column name with a comma in it, quoted, does not fool it
    assert detect_delimiter(delimiter.join(['"name, full"', *names]) + "\n", names) == delimiter


def test_a_utf8_byte_order_mark_with_another_encoding_asked_is_refused():
    with pytest.raises(InputError, match="leave out --encoding cp1252"):
        encoding_for(codecs.BOM_UTF8 + b"customer_id", "cp1252", "x.csv")
    assert encoding_for(codecs.BOM_UTF8 + b"c", "utf-8", "x.csv") == "utf-8-sig"
    assert encoding_for(codecs.BOM_UTF16_LE + b"c\x00", None, "x.csv") == "utf-16"
    assert encoding_for(b"customer_id", None, "x.csv") == "utf-8"


def test_an_unknown_encoding_is_an_input_error_with_examples(template, tmp_path):
    with pytest.raises(InputError, match="unknown encoding 'klingon'; name the export's character set, e.g. cp1252"):
        _read(template, tmp_path, (HEADER + "\n" + LINES[0] + "\n").encode(), encoding="klingon")


def test_latin1_export_reads_with_its_encoding(template, tmp_path):
    data = (HEADER + "\n" + LINES[1].replace("Camille", "Amélie") + "\n").encode("latin-1")
    (c,) = _read(template, tmp_path, data, encoding="latin-1")
    assert isinstance(c, Customer) and c.values["first_name"] == "Amélie"


def test_bad_bytes_in_the_customer_id_cost_that_row_only(template, tmp_path):
    lines = [HEADER, *LINES[:3]]
    data = "\n".join(lines).encode().replace(b"CUST-00002", b"CUST-\xff0002") + b"\n"
    assert _report(_read(template, tmp_path, data)) == [(2, "ok"), (3, "", "customer_id"), (4, "ok")]


def test_a_header_with_bad_bytes_or_a_repeated_column_is_an_input_error(template, tmp_path):
    with pytest.raises(InputError, match=r"the header row has byte 0xe9 .* pass --encoding cp1252"):
        _read(template, tmp_path, (HEADER.replace("first_name", "pr\udce9nom") + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(InputError, match="the header names email more than once"):
        _read(template, tmp_path, (HEADER + ",email\n").encode())


def test_a_missing_column_in_a_semicolon_export_lists_the_header_it_read(template, tmp_path):
    with pytest.raises(InputError) as err:
        _read(template, tmp_path, HEADER.replace(",kwh", "").replace(",", ";").encode() + b"\n")
    assert "missing column kwh that template 'bill-explainer' requires; the header has: customer_id, first_name" in str(err.value)


def test_blank_first_line_and_blank_only_files(template, tmp_path):
    with pytest.raises(InputError, match="the first line is blank"):
        _read(template, tmp_path, ("\n" + HEADER + "\n").encode())
    with pytest.raises(InputError, match="the file is empty"):
        _read(template, tmp_path, b"\r\n\n  \n")
    with pytest.raises(InputError, match="the file is empty"):
        _read(template, tmp_path, codecs.BOM_UTF8)
    with pytest.raises(InputError, match="the file is empty"):
        _read(template, tmp_path, b"\n\n", name="x.jsonl")


def test_an_unclosed_quote_on_the_last_row_costs_that_row(template, tmp_path):
    lines = [HEADER, *LINES[:3]]
    lines[3] = lines[3].replace(",İsmail,", ',"İsmail,')
    assert _report(_read(template, tmp_path, ("\n".join(lines) + "\n").encode())) == [(2, "ok"), (3, "ok"), (4, "CUST-00003", "")]


def test_a_cell_larger_than_the_csv_limit_costs_its_row_only(template, tmp_path):
    lines = [HEADER, *LINES[:3]]
    lines[2] = lines[2].replace(",Camille,", ',"' + "x" * 200_000 + '",')
    assert _report(_read(template, tmp_path, ("\n".join(lines) + "\n").encode())) == [(2, "ok"), (3, "CUST-00002", ""), (4, "ok")]


def test_control_characters_in_a_cell_are_refused(template, tmp_path):
    lines = [HEADER, LINES[0].replace("Giulia", "Giu\x00lia"), LINES[1].replace("Camille", "Cam\x1bille")]
    items = _read(template, tmp_path, ("\n".join(lines) + "\n").encode())
    assert _report(items) == [(2, "CUST-00001", "first_name"), (3, "CUST-00002", "first_name")]
    assert "control character U+0000 at character 4" in items[0].reason


def test_a_multi_line_cell_stays_in_its_row_as_in_a_spreadsheet(template, tmp_path):
    lines = [HEADER, LINES[0].replace(",Rossi,", ',"Rossi\nSecond line",'), LINES[1]]
    items = _read(template, tmp_path, ("\r\n".join(lines) + "\r\n").encode())
    assert _report(items) == [(2, "ok"), (3, "ok")]
    assert items[0].values["last_name"] == "Rossi\nSecond line"


def test_jsonl_with_a_byte_order_mark_and_typed_values(template, tmp_path):
    import json

    row = dict(zip(HEADER.split(","), next(iter(__import__("csv").reader([LINES[0]]))), strict=True))
    row.update(amount_due=128.48, kwh=[int(x) for x in row["kwh"].split(";")])
    items = _read(template, tmp_path, codecs.BOM_UTF8 + json.dumps(row).encode() + b"\n" + json.dumps({**row, "customer_id": True}).encode() + b"\n",
                  name="x.jsonl")
    assert isinstance(items[0], Customer) and items[0].values["amount_due"] == Decimal("128.48")
    assert isinstance(items[1], RowError) and items[1].column == "customer_id"


def _parquet(tmp_path, columns: dict, name: str = "x.parquet", **kw):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / name
    pq.write_table(pa.table(columns), path, **kw)
    return path


def _columns(n: int = 3, **override) -> dict:
    import csv

    rows = list(csv.DictReader(io.StringIO("\n".join([HEADER, *LINES[:n]]))))
    cols = {k: [r[k] or None for r in rows] for k in rows[0]}
    cols.update(override)
    return cols


def test_parquet_timestamps_are_dates_only_at_midnight(template, tmp_path):
    import pyarrow as pa

    stamps = pa.array([dt.datetime(2026, 12, 11), dt.datetime(2026, 12, 23, 14, 30), dt.datetime(2026, 12, 17)], pa.timestamp("ms"))
    items = list(read_customers(template, _parquet(tmp_path, _columns(due_date=stamps))))
    assert _report(items) == [(1, "ok"), (2, "CUST-00002", "due_date"), (3, "ok")]
    assert items[0].values["due_date"] == dt.date(2026, 12, 11)
    assert "has a time of day" in items[1].reason


def test_parquet_integer_ids_and_float_money_are_read(template, tmp_path):
    items = list(read_customers(template, _parquet(tmp_path, _columns(customer_id=[1, 2, 1], amount_due=[84.2, 0.1 + 0.2, 9.0]))))
    assert _report(items) == [(1, "ok"), (2, "2", "amount_due"), (3, "1", "customer_id")]
    assert items[0].customer_id == "1" and items[0].values["amount_due"] == Decimal("84.20")


def test_a_file_that_is_not_parquet_is_an_input_error(template, tmp_path):
    (tmp_path / "x.parquet").write_text(HEADER)
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_customers(template, tmp_path / "x.parquet")


def test_an_unreadable_parquet_row_group_costs_its_rows_only(template, tmp_path):
    import pyarrow.parquet as pq

    path = _parquet(tmp_path, _columns(5), row_group_size=2, compression="snappy")
    col = pq.ParquetFile(path).metadata.row_group(1).column(1)
    data = bytearray(path.read_bytes())
    for i in range(col.data_page_offset + 10, col.data_page_offset + col.total_compressed_size - 2):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    items = list(read_customers(template, path))
    assert _report(items) == [(1, "ok"), (2, "ok"), (3, "", ""), (4, "", ""), (5, "ok")]
    assert "is in Parquet row group 1, which cannot be read" in items[2].reason


def test_seen_ids_are_compact_and_remember_the_first_row():
    from tailorcast.idset import SeenIds

    seen = SeenIds()
    assert seen.first_row("C1", 2) is None and seen.first_row("C2", 3) is None
    assert seen.first_row("C1", 9) == 2 and seen.first_row("C2", 10) == 3
    for i in range(100_000):
        seen.first_row(f"CUST-{i:08d}", i + 4)
    assert len(seen) == 100_002
    assert seen.nbytes() / len(seen) <= 12.0  # 8-byte hash + 4-byte row
    assert seen.first_row("CUST-00050000", 1) == 50_004


def test_a_line_without_end_costs_its_row_and_is_never_held_whole(template, tmp_path, monkeypatch):
    import json

    import tailorcast.records as records

    monkeypatch.setattr(records, "MAX_LINE", 4096)  # the same rule as at 1 MiB, on a small file
    lines = [HEADER, LINES[0], "x" * 20_000, LINES[1]]
    assert _report(_read(template, tmp_path, ("\n".join(lines) + "\n").encode())) == [(2, "ok"), (3, "", ""), (4, "ok")]
    rows = [json.dumps({"customer_id": "C1"}), "y" * 20_000, json.dumps({"customer_id": "C2"})]
    items = _read(template, tmp_path, ("\n".join(rows) + "\n").encode(), name="x.jsonl")
    assert [(i.row, i.reason) for i in items if isinstance(i, RowError) and i.row == 2] == [
        (2, "is longer than 4,096 bytes, so it was skipped; is a line end missing?")]
    with pytest.raises(InputError, match="the first line is longer than"):
        _read(template, tmp_path, b"z" * 20_000)


@pytest.mark.parametrize("cell,mark,value", [("42", ".", 42), ("42.0", ".", 42), ("-3", ",", -3), ("1.234", ",", 1234), (7, ".", 7), (7.0, ".", 7),
                                             ("42.5", ".", None), ("4,2", ".", None), ("1.23", ",", None), ("x", ".", None), (float("nan"), ".", None)])
def test_whole_numbers_in_either_dialect(cell, mark, value):
    from tailorcast.customers import _convert
    from tailorcast.spec.model import Field

    if value is None:
        with pytest.raises(ValueError, match="is not a whole number"):
            _convert(Field("n", "integer"), cell, mark)
    else:
        assert _convert(Field("n", "integer"), cell, mark) == value
