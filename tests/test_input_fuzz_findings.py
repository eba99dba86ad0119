"""Inputs a fuzzing pass found that broke the input promise (a traceback, a hang, a bad row accepted, an unclear
message), one test each: every one is now an InputError before any row, or one row of the error report."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os

import pytest
from click.testing import CliRunner

from tailorcast.customers import Customer, InputOptions, read_customers
from tailorcast.errors import InputError, RowError

from helpers.samples import REMINDER_DIR

HEADER = "customer_id,first_name,email,locale,currency,invoice_id,amount_due,due_date,days_overdue"


def _row(i: int, **cells: str) -> str:
    row = dict(customer_id=f"R-{i}", first_name="Olivia", email=f"r{i}@example.com", locale="en", currency="EUR",
               invoice_id=f"I-{i}", amount_due="69.30", due_date="2026-10-11", days_overdue="12")
    return ",".join({**row, **cells}.values())


def _record(i: int, **cells) -> dict:
    return dict(customer_id=f"R-{i}", first_name="Olivia", email=f"r{i}@example.com", locale="en", invoice_id=f"I-{i}",
                amount_due="69.30", due_date="2026-10-11", days_overdue=12) | cells


@pytest.fixture(scope="module")
def reminder():
    from tailorcast.spec.load import load_template

    return load_template(REMINDER_DIR)


def _read(template, tmp_path, data: bytes, name: str = "x.csv", **options) -> list:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_customers(template, path, InputOptions(**options)))


def _errors(items) -> list[tuple]:
    return [(e.row, e.customer_id, e.column, e.reason) for e in items if isinstance(e, RowError)]


def _valid(items) -> list[int]:
    return [c.row for c in items if isinstance(c, Customer)]


@pytest.mark.parametrize("name", ["rot13", "base64", "zlib", "hex", "idna", "utf-16", "utf-32"])
def test_an_encoding_that_cannot_read_text_line_by_line_is_an_input_error(reminder, tmp_path, name):
    # was a LookupError / AssertionError / UnicodeError traceback from io.TextIOWrapper or the first read
    data = (HEADER + "\n" + _row(1) + "\n").encode()
    with pytest.raises(InputError, match=f"--encoding {name} is not a character set .* e.g. cp1252"):
        _read(reminder, tmp_path, data, encoding=name)


def test_a_header_of_100000_columns_is_read_in_linear_time(reminder, tmp_path):
    # was a csv.Error traceback (a 600 kB "cell" when split by ';'), then a quadratic duplicate-name check (a hang)
    extra = ",".join(f"c{i}" for i in range(100_000))
    data = f"{HEADER},{extra}\n{_row(1)}{',' * 100_000}\n".encode()
    assert _valid(_read(reminder, tmp_path, data)) == [2]


def test_a_header_cell_over_the_csv_size_limit_is_an_input_error(reminder, tmp_path):
    data = f'{HEADER},"{"x" * 200_000}"\n{_row(1)},x\n'.encode()
    with pytest.raises(InputError, match="the header row cannot be read as CSV"):
        _read(reminder, tmp_path, data)


@pytest.mark.parametrize("amount,decimal", [("9" * 40, "."), ("9" * 5000, "."), ("9" * 40, ",")])
def test_an_amount_with_more_digits_than_decimal_holds_is_a_row_error(reminder, tmp_path, amount, decimal):
    # was decimal.InvalidOperation out of quantize: a traceback that stopped the run
    data = f"{HEADER}\n{_row(1, amount_due=amount)}\n{_row(2, amount_due='69')}\n".encode()
    items = _read(reminder, tmp_path, data, decimal=decimal)
    (row, cid, column, reason), = _errors(items)
    assert (row, cid, column) == (2, "R-1", "amount_due")
    assert "is too large for an amount" in reason and len(reason) < 120  # the 5,000 digits are not echoed
    assert _valid(items) == [3]


def test_jsonl_lines_python_cannot_load_are_row_errors(reminder, tmp_path):
    # were ValueError (an integer of 5,000 digits) and RecursionError tracebacks out of json.loads
    lines = [json.dumps(_record(1)).replace('"days_overdue": 12', '"days_overdue": ' + "9" * 5000),
             "[" * 100_000 + "]" * 100_000,
             json.dumps(_record(3)).replace('"amount_due": "69.30"', '"amount_due": 1e999999999999'),
             json.dumps(_record(4))]
    items = _read(reminder, tmp_path, "\n".join(lines).encode() + b"\n", "x.jsonl")
    errors = _errors(items)
    assert [(e[0], e[2]) for e in errors] == [(1, ""), (2, ""), (3, "amount_due")]
    assert "more than 4,300 digits" in errors[0][3] and "nested too deep" in errors[1][3] and "too large for an amount" in errors[2][3]
    assert _valid(items) == [4]


def test_a_json_escape_of_half_a_surrogate_pair_is_a_row_error(reminder, tmp_path):
    # was accepted: a first name no UTF-8 page or error report can hold
    lines = [json.dumps(_record(1, first_name="\ud800x")), json.dumps(_record(2, first_name="\udcffx")), json.dumps(_record(3, first_name="\U0001f600"))]
    items = _read(reminder, tmp_path, "\n".join(lines).encode() + b"\n", "x.jsonl")
    assert [(e[0], e[2]) for e in _errors(items)] == [(1, "first_name"), (2, "first_name")]
    assert "U+D800 at character 1" in _errors(items)[0][3]
    assert _valid(items) == [3]


def test_messages_name_json_types_and_numbers_as_written(reminder, tmp_path):
    lines = ["null", '"text"', json.dumps(_record(3, days_overdue=12.5)).replace("12.5", "12.50"), json.dumps(_record(4, due_date=20261011)),
             json.dumps(_record(5, days_overdue=None))]
    reasons = [e[3] for e in _errors(_read(reminder, tmp_path, "\n".join(lines).encode() + b"\n", "x.jsonl"))]
    assert reasons == ["is a JSON null; each line must be one JSON object", "is a JSON string; each line must be one JSON object",
                       "12.50 is not a whole number",  # not Decimal('12.50')
                       "is the number 20261011; write the date as text YYYY-MM-DD",  # not "is a int"
                       "is empty; every row needs an integer here"]


def _parquet(path, **columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 3
    base = {k: pa.array([str(v) if k != "customer_id" else f"R-{i}" for i in range(n)]) for k, v in _record(0).items()}
    pq.write_table(pa.table(base | columns), path)
    return path


def test_parquet_dates_python_cannot_hold_cost_their_row_only(reminder, tmp_path):
    # was an OverflowError traceback out of to_pylist for the whole batch
    import pyarrow as pa

    days = pa.array([dt.date(2026, 10, 11).toordinal() - dt.date(1970, 1, 1).toordinal(), 2**31 - 1, 0], pa.int32()).cast(pa.date32())
    path = _parquet(tmp_path / "x.parquet", due_date=days)
    items = list(read_customers(reminder, path))
    (row, cid, column, reason), = _errors(items)
    assert (row, cid, column) == (2, "R-1", "due_date") and reason.startswith("is a date outside 0001-01-01 to 9999-12-31")
    assert _valid(items) == [1, 3]


def test_parquet_text_that_is_not_utf8_costs_its_row_only(reminder, tmp_path):
    # a damaged page: pyarrow reads the bytes but Python cannot decode them (was a UnicodeDecodeError traceback)
    import pyarrow as pa

    names = pa.Array.from_buffers(pa.string(), 3, [None, pa.py_buffer(b"\x00\x00\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00"),
                                                   pa.py_buffer(b"A\xffBC")])
    path = _parquet(tmp_path / "x.parquet", first_name=names)
    items = list(read_customers(reminder, path))
    (row, cid, column, reason), = _errors(items)
    assert (row, cid, column) == (2, "R-1", "first_name") and reason.startswith("holds bytes that are not UTF-8 text")
    assert _valid(items) == [1, 3]


def test_a_parquet_column_named_twice_is_an_input_error(reminder, tmp_path):
    # was a KeyError traceback out of Schema.field
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({k: [str(v)] for k, v in _record(1).items()})
    pq.write_table(pa.Table.from_arrays([*table.columns, pa.array(["x"])], names=[*table.column_names, "email"]), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="the file has column email more than once; keep one column of each name"):
        list(read_customers(reminder, tmp_path / "x.parquet"))


def test_utf32_with_a_byte_order_mark_is_not_read_as_utf16(reminder, tmp_path):
    # its mark starts with UTF-16's: the header came out as 'c\x00u\x00…' and every column was "missing"
    text = f"{HEADER}\n{_row(1)}\n{_row(2, first_name='Léa')}\n"
    assert _valid(_read(reminder, tmp_path, text.encode("utf-32"))) == [2, 3]
    with pytest.raises(InputError, match=r"JSON Lines must be UTF-8 \(this file is UTF-32\)"):
        _read(reminder, tmp_path, (json.dumps(_record(1)) + "\n").encode("utf-32"), "x.jsonl")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_says_so(reminder, tmp_path, codec):
    with pytest.raises(InputError, match="probably UTF-16 without a byte order mark; pass --encoding utf-16-le"):
        _read(reminder, tmp_path, f"{HEADER}\n{_row(1)}\n".encode(codec))
    assert _valid(_read(reminder, tmp_path, f"{HEADER}\n{_row(1)}\n".encode(codec), encoding=codec)) == [2]


def test_a_second_byte_order_mark_before_the_header_is_not_part_of_a_name(reminder, tmp_path):
    data = codecs.BOM_UTF8 * 2 + f"{HEADER}\n{_row(1)}\n".encode()
    assert _valid(_read(reminder, tmp_path, data)) == [2]


def test_an_unclosed_quote_in_the_id_does_not_put_the_rest_of_the_line_in_the_report(reminder, tmp_path):
    # the customer id of the error was the whole line: name, e-mail… in the error report's customer_id column
    data = f'{HEADER}\n"{_row(1)}\n{_row(2)}\n'.encode()
    items = _read(reminder, tmp_path, data)
    assert [(e[0], e[1]) for e in _errors(items)] == [(2, "")]
    assert _valid(items) == [3]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_not_reported_as_missing(reminder, tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(InputError, match="is not a regular file") as err:
        read_customers(reminder, tmp_path / "pipe.csv")
    assert "not found" not in str(err.value)


def test_validate_reports_them_without_a_traceback(tmp_path):
    from tailorcast.cli import main

    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([json.dumps(_record(1)).replace('"days_overdue": 12', '"days_overdue": ' + "9" * 5000),
                               json.dumps(_record(2, amount_due="9" * 40)), json.dumps(_record(3))]) + "\n")
    result = CliRunner().invoke(main, ["validate", str(REMINDER_DIR), "--customers", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "customers: 1 valid, 2 invalid of 3 rows" in result.output
    result = CliRunner().invoke(main, ["validate", str(REMINDER_DIR), "--customers", str(path), "--encoding", "rot13"])
    assert result.exit_code == 2 and "is not a character set" in result.output, result.output


def test_a_cp1252_export_read_as_latin1_is_not_silently_accepted(reminder, tmp_path):
    # "€" is 0x80 in cp1252 and U+0080 (a C1 control) in latin-1: the name was accepted and drawn as nothing
    data = (f"{HEADER}\n" + _row(1, first_name="Café €") + "\n").encode("cp1252")
    (row, cid, column, reason), = _errors(_read(reminder, tmp_path, data, encoding="latin-1"))
    assert (row, cid, column) == (2, "R-1", "first_name")
    assert "control character U+0080 at character 6" in reason and "pass --encoding cp1252" in reason
    assert _valid(_read(reminder, tmp_path, data, encoding="cp1252")) == [2]


def test_a_plain_cell_over_the_csv_size_limit_does_not_blame_quotes(reminder, tmp_path):
    data = f"{HEADER}\n{_row(1, amount_due='x' * 200_000)}\n{_row(2)}\n".encode()
    items = _read(reminder, tmp_path, data)
    (row, cid, column, reason), = _errors(items)
    assert (row, cid) == (2, "R-1") and reason.startswith("has a cell longer than 131,072 characters") and "quote" not in reason
    assert _valid(items) == [3]


@pytest.mark.parametrize("column", ["amount_due", "locale", "due_date", "email"])
def test_a_long_bad_cell_is_not_quoted_whole(reminder, tmp_path, column):
    # the reason quoted the whole cell: a 100,000-character line in the error report and on the terminal
    data = f"{HEADER}\n{_row(1, **{column: 'x' * 100_000})}\n".encode()
    (row, cid, col, reason), = _errors(_read(reminder, tmp_path, data))
    assert (row, col) == (2, column) and "(100,000 characters)" in reason and len(reason) < 250


def test_a_damaged_parquet_footer_is_one_line(reminder, tmp_path):
    # Arrow's thrift messages end in a line break (and may hold control bytes): the error was split over two lines
    import struct

    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 16 + struct.pack("<i", 16) + b"PAR1")
    with pytest.raises(InputError, match="not a readable Parquet file") as err:
        read_customers(reminder, path)
    assert "\n" not in str(err.value) and str(err.value).endswith("; export it again, or as .csv")


def test_float32_amounts_in_parquet_are_read_as_written(reminder, tmp_path):
    # 69.3 in float32 is 69.30000305175781 as a Python float: "more than 2 decimals" for a valid amount
    import pyarrow as pa

    path = _parquet(tmp_path / "x.parquet", amount_due=pa.array([69.3, 120.5, 69.301], pa.float32()))
    items = list(read_customers(reminder, path))
    assert [str(c.values["amount_due"]) for c in items if isinstance(c, Customer)] == ["69.30", "120.50"]
    (row, _, column, reason), = _errors(items)
    assert (row, column) == (3, "amount_due") and "has more than 2 decimals" in reason


def test_a_byte_order_mark_inside_a_cell_is_a_row_error(reminder, tmp_path):
    # two exports joined: the second one's mark lands in its first id, which then equals no other id
    data = "\n".join([HEADER, _row(1), "\ufeff" + _row(2), _row(3)]).encode()
    items = _read(reminder, tmp_path, data)
    (row, _, column, reason), = _errors(items)
    assert (row, column) == (3, "customer_id") and reason.startswith("holds a byte order mark (U+FEFF) at character 1")
    assert _valid(items) == [2, 4]


def test_a_whole_number_of_thousands_of_digits_is_a_row_error(reminder, tmp_path):
    items = _read(reminder, tmp_path, "\n".join([HEADER, _row(1, days_overdue="9" * 5000), _row(2, days_overdue="9" * 18)]).encode())
    (row, _, column, reason), = _errors(items)
    assert (row, column) == (2, "days_overdue") and "is too large; a whole number here has at most 18 digits" in reason
    assert len(reason) < 200 and _valid(items) == [3]


def test_a_missing_column_message_names_at_most_fifty_of_a_huge_header(reminder, tmp_path):
    data = (",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("x" for _ in range(100_000)) + "\n").encode()
    with pytest.raises(InputError) as info:
        _read(reminder, tmp_path, data)
    assert "the header has: c0, c1," in str(info.value) and "c49 and 99,950 more" in str(info.value) and len(str(info.value)) < 1000


def test_a_header_repeated_as_a_row_says_so(reminder, tmp_path):
    items = _read(reminder, tmp_path, "\n".join([HEADER, _row(1), HEADER, _row(2)]).encode())
    assert _errors(items) == [(3, "", "", "repeats the header row (two exports joined into one file?); remove this line")]
    assert _valid(items) == [2, 4]


def test_a_json_line_that_names_a_key_twice_is_a_row_error(reminder, tmp_path):
    line = json.dumps(_record(1))[:-1] + ', "amount_due": "5.00"}'
    items = _read(reminder, tmp_path, (line + "\n" + json.dumps(_record(2)) + "\n").encode(), "x.jsonl")
    assert _errors(items) == [(1, "", "amount_due", "names this key twice (JSON keeps only the last); write each key once per line")]
    assert _valid(items) == [2]


def test_a_column_name_that_differs_in_case_or_invisible_characters_is_pointed_at(reminder, tmp_path):
    header = HEADER.replace("email", "Email").replace("locale", "lo\u200bcale")
    with pytest.raises(InputError) as info:
        _read(reminder, tmp_path, (header + "\n" + _row(1) + "\n").encode())
    message = str(info.value)
    assert "missing columns email, locale" in message
    assert "'Email' for 'email'; 'lo\\u200bcale' for 'locale': column names must match exactly" in message


def test_jsonl_with_lone_carriage_returns_says_how_its_lines_end(reminder, tmp_path):
    data = "\r".join(json.dumps(_record(i)) for i in (1, 2)).encode() + b"\r"
    (row, _, _, reason), = _errors(_read(reminder, tmp_path, data, "x.jsonl"))
    assert row == 1 and reason.startswith("not valid JSON (Extra data at column ") and "end in a carriage return alone" in reason
