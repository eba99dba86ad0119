"""Row validation: every bad cell names its row, customer and column, and says how to fix it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tailorcast.customers import Customer, read_customers, validate_row, write_customers
from tailorcast.errors import InputError, RowError

GOOD = dict(customer_id="C1", first_name="Şule", email="s@example.com", locale="tr", invoice_id="I-1", amount_due="84.20",
            due_date="2026-12-15", period_end="2026-10-31", kwh=";".join(["10"] * 12))


def test_good_row_is_typed(template):
    c = validate_row(template, 2, GOOD)
    assert isinstance(c, Customer)
    assert c.values["amount_due"] == Decimal("84.20")
    assert c.values["kwh"] == (10.0,) * 12
    assert c.values["currency"] == "EUR"  # default
    assert c.strings_locale == "tr"


@pytest.mark.parametrize("column,value,reason", [
    ("amount_due", "12,50€", "is not a number; write it like 84.20"),
    ("amount_due", "1.234", "more than 2 decimals"),
    ("due_date", "15/12/2026", "is not a date; write it as YYYY-MM-DD"),
    ("kwh", "1;2;3", "has 3 values; exactly 12 expected"),
    ("email", "not-an-email", "is not an e-mail address"),
    ("locale", "zz", "unknown locale 'zz'"),
    ("first_name", "", "is empty"),
])
def test_bad_cells(template, column, value, reason):
    with pytest.raises(RowError) as err:
        validate_row(template, 7, {**GOOD, column: value})
    e = err.value
    assert (e.row, e.customer_id, e.column) == (7, "C1", column)
    assert reason in e.reason
    assert str(e).startswith("row 7 (customer C1), column")
    assert "C1" not in e.public_str() and (not value or value not in e.public_str())


def test_locale_without_strings_uses_the_fallback(template):
    c = validate_row(template, 2, {**GOOD, "locale": "de"})
    assert (c.locale, c.strings_locale) == ("de", "en")


def test_row_errors_survive_pickling():
    import pickle

    e = RowError(3, "C9", "kwh", "bad")
    assert str(pickle.loads(pickle.dumps(e))) == str(e)


def test_csv_missing_required_column_is_an_input_error(template, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("customer_id,first_name\nC1,Ann\n")
    with pytest.raises(InputError) as err:
        read_customers(template, path)
    assert "missing columns" in str(err.value) and "amount_due" in str(err.value)


def test_jsonl_rows_with_line_numbers_and_a_broken_line(template, tmp_path):
    path = tmp_path / "x.jsonl"
    lines = [json.dumps(GOOD), "{not json", json.dumps({**GOOD, "customer_id": "C2", "amount_due": "x"})]
    path.write_text("\n".join(lines) + "\n")
    out = list(read_customers(template, path))
    assert isinstance(out[0], Customer) and out[0].row == 1
    assert isinstance(out[1], RowError) and out[1].row == 2 and "not valid JSON" in out[1].reason
    assert isinstance(out[2], RowError) and (out[2].row, out[2].column) == (3, "amount_due")


def test_unsupported_format_says_how_to_fix(template, tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InputError, match=r"export the CRM data as .csv, .jsonl or .parquet"):
        read_customers(template, path)


def test_written_customers_read_back_with_their_letters_and_row_numbers(template, tmp_path):
    path = tmp_path / "x.csv"
    rows = [{**GOOD, "customer_id": "C1", "first_name": "Şule, \"İ\""}, {**GOOD, "customer_id": "C2", "amount_due": ""}]
    assert write_customers(path, list(GOOD), rows) == 2
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(GOOD)
    out = list(read_customers(template, path))
    assert isinstance(out[0], Customer) and out[0].row == 2 and out[0].values["first_name"] == 'Şule, "İ"'
    assert isinstance(out[1], RowError) and (out[1].row, out[1].column) == (3, "amount_due")


def test_find_row_returns_that_row_or_its_error(template):
    from helpers.samples import SAMPLE_CSV
    from tailorcast.customers import find_row

    c = find_row(template, SAMPLE_CSV, 2)  # the first customer of a CSV is row 2
    assert isinstance(c, Customer) and c.row == 2 and c.customer_id == "CUST-00001"
    with pytest.raises(RowError) as err:
        find_row(template, SAMPLE_CSV, 53)
    assert (err.value.customer_id, err.value.column) == ("CUST-00052", "amount_due")
    with pytest.raises(InputError, match=r"no row 999 .* the last row here is 56"):
        find_row(template, SAMPLE_CSV, 999)
