"""The bad-input zoo (tests/data/input/): every file gives its expected report, through read_customers and
through `tailorcast validate --customers`; the Italian Excel export also goes through a run.

A file's report is ``<file>.expected.json``: for each set of options, the valid customers (row, id) and the
error report's rows (row, customer id, column, reason), or the one message of a file that cannot be used.
``tests/data/input/make_zoo.py`` writes the files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.samples import TEMPLATE_DIR
from helpers.tiny import TINY, write_tiny

ZOO = Path(__file__).parent / "data" / "input"
CASES = [(path.name.removesuffix(".expected.json"), i, case)
         for path in sorted(ZOO.glob("*.expected.json"))
         for i, case in enumerate(json.loads(path.read_text(encoding="utf-8"))["cases"])]
IDS = [f"{name}-{i}" for name, i, _ in CASES]


def test_the_zoo_has_every_kind_of_bad_input():
    names = {name for name, _, _ in CASES}
    assert {"bad-bytes.csv", "italian-excel.csv", "semicolon.csv", "wrong-types.csv", "missing-cells.csv", "duplicate-ids.csv", "empty.csv",
            "header-only.csv", "bom.csv", "crlf.csv", "cp1252.csv", "wrong-column-type.parquet", "broken-line.jsonl"} <= names
    assert all((ZOO / name).is_file() for name in names)


def _options(case: dict):
    from tailorcast.customers import InputOptions

    return InputOptions(**case["options"])


@pytest.mark.parametrize("name,i,case", CASES, ids=IDS)
def test_read_customers_gives_the_expected_report(template, name, i, case):
    from tailorcast.customers import read_customers
    from tailorcast.errors import InputError, RowError

    if "input_error" in case:
        with pytest.raises(InputError) as err:
            read_customers(template, ZOO / name, _options(case))
        assert err.value.message == case["input_error"]
        return
    items = list(read_customers(template, ZOO / name, _options(case)))
    assert [[c.row, c.customer_id] for c in items if not isinstance(c, RowError)] == case["customers"]
    assert [[e.row, e.customer_id, e.column, e.reason] for e in items if isinstance(e, RowError)] == case["errors"]
    assert [item.row for item in items] == sorted(item.row for item in items)  # file order


def _cli_options(case: dict) -> list[str]:
    return [arg for key, value in case["options"].items() for arg in (f"--{key}", value)]


@pytest.mark.parametrize("name,i,case", CASES, ids=IDS)
def test_validate_reports_the_same_rows(tmp_path, monkeypatch, name, i, case):
    from tailorcast.cli import main
    from tailorcast.errors import RowError

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["validate", str(TEMPLATE_DIR), "--customers", str(ZOO / name), *_cli_options(case)])
    text = " ".join(result.output.split())
    assert "Traceback" not in result.output
    if "input_error" in case:
        assert result.exit_code == 2
        assert " ".join(f"error: customers '{ZOO / name}': {case['input_error']}".split()) in text
        return
    rows = len(case["customers"]) + len(case["errors"])
    if not rows:
        assert result.exit_code == 1 and "no customer rows (only a header)" in text
        return
    assert f"customers: {len(case['customers'])} valid, {len(case['errors'])} invalid of {rows} rows" in text
    for e in case["errors"]:
        assert " ".join(str(RowError(*e)).split()) in text
    assert result.exit_code == (1 if case["errors"] else 0)


@pytest.mark.parametrize("name,status,message", [
    ("empty.csv", 2, "the file is empty: no header row and no customers"),
    ("header-only.csv", 1, "no customer rows (only a header); nothing to publish"),
])
def test_run_ends_cleanly_on_a_file_without_customers(tmp_path, monkeypatch, name, status, message):
    from tailorcast.cli import main

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(ZOO / name), "--out", str(tmp_path / "pub")])
    assert result.exit_code == status
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and "rendering" not in result.output  # before Ray and the progress bar
    assert not (tmp_path / "pub").exists()


# The tiny template with a money field: an Italian Excel export through a whole run, in this process.
MONEY_TINY = TINY.replace("  first_name: {type: text, required: true}\n", "  first_name: {type: text, required: true}\n  amount: {type: money, required: true}\n")
ITALIAN = ("\ufeffcustomer_id;locale;first_name;amount\r\n"
           "C1;en;Ann;1.234,56\r\n"
           "C2;en;Bob;84,20\r\n"
           "C3;en;Cy;12.50\r\n"  # a dot where the export writes commas: that row is reported
           "C4;en;Di;7,00\r\n").encode("utf-8").replace(b"Di", b"D\xec")  # a cp1252 byte in a UTF-8 file


def test_an_italian_excel_export_runs_with_decimal_comma_alone(tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.customers import InputOptions
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    assert MONEY_TINY.count("amount") == 1
    template = load_template(write_tiny(tmp_path / "tiny", MONEY_TINY))
    customers = tmp_path / "export.csv"
    customers.write_bytes(ITALIAN)
    out = tmp_path / "pub"
    summary = run_billing(template, customers, LocalBucket(out), Settings(state_dir=tmp_path / "state", secret=b"zoo-secret-" + b"x" * 32),
                          executor=InProcessExecutor(), input_options=InputOptions(decimal=","))
    assert (summary.rows, summary.ok, summary.invalid, summary.failed) == (4, 2, 2, 0)
    errors = list(csv.DictReader(io.StringIO((out / summary.errors).read_text())))
    assert [(e["row"], e["customer_id"], e["column"]) for e in errors] == [("4", "C3", "amount"), ("5", "C4", "first_name")]
    assert "'12.50' is not a number with a decimal comma" in errors[0]["reason"]
    assert "byte 0xec is not UTF-8 text" in errors[1]["reason"] and "--encoding cp1252" in errors[1]["reason"]
    manifest = list(csv.DictReader(io.StringIO((out / summary.manifest).read_text())))
    assert [(m["row"], m["customer_id"], m["status"]) for m in manifest] == [("2", "C1", "ok"), ("3", "C2", "ok")]
