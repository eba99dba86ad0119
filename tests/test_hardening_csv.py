"""Formula injection: every CSV the project writes goes through tailorcast/csvfile.py, which neutralizes cells a
spreadsheet would run as a formula (issue 10, item 3)."""

from __future__ import annotations

import ast
import csv
import io

import pytest

from helpers.samples import ROOT

PACKAGES = ["tailorcast", "renderer", "microsite", "workers", "store", "public_server", "studio", "results", "tools"]


@pytest.mark.parametrize("cell", ["=1+1", "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "=HYPERLINK(\"http://x\")"])
def test_a_cell_that_starts_a_formula_is_written_as_text(cell):
    from tailorcast.csvfile import csv_bytes

    rows = list(csv.DictReader(io.StringIO(csv_bytes(["a", "b"], [{"a": cell, "b": "plain"}]).decode())))
    assert rows == [{"a": "'" + cell, "b": "plain"}]


@pytest.mark.parametrize("cell", ["-12.50", "+3", "42", "ann@example.com", "Anna-Maria", "", "a,\"b\"\r\nc"])
def test_numbers_and_ordinary_text_are_written_unchanged(cell):
    from tailorcast.csvfile import csv_bytes

    assert list(csv.DictReader(io.StringIO(csv_bytes(["a"], [{"a": cell}]).decode()))) == [{"a": cell}]


def test_sample_customer_files_are_written_unchanged_for_tailorcast_to_read_back(tmp_path):
    from tailorcast.csvfile import write_input_csv

    write_input_csv(tmp_path / "c.csv", ["a"], [{"a": "=1+1"}])
    assert (tmp_path / "c.csv").read_text() == "a\n=1+1\n"


def test_the_runs_error_report_and_manifest_neutralize_hostile_cells(tmp_path):
    """A CRM export is typed by people: a customer id like =HYPERLINK(…) reaches errors.csv and manifest.csv."""
    from test_run import RUN_TINY, _csv, _run
    from helpers.tiny import write_tiny
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template

    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,locale,first_name,parts\n=HYPERLINK(\"http://x\"),en,Ann,3\n@SUM(A1),en,Bob,three\n-2+3,en,Cy,0\n")
    template = load_template(write_tiny(tmp_path / "tiny", RUN_TINY))
    summary = _run((template, customers, Settings(state_dir=tmp_path / "state", secret=b"s" * 48), tmp_path / "pub"))
    manifest = [r["customer_id"] for r in _csv(tmp_path / "pub" / summary.manifest)]
    errors = [r["customer_id"] for r in _csv(tmp_path / "pub" / summary.errors)]
    assert manifest == ["'=HYPERLINK(\"http://x\")", "'-2+3"]
    assert errors == ["'@SUM(A1)", "'-2+3"]


def _csv_writers(source: str) -> list[int]:
    tree = ast.parse(source)
    return sorted(n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr in ("writer", "DictWriter") and isinstance(n.value, ast.Name) and n.value.id == "csv"
            or isinstance(n, ast.ImportFrom) and n.module == "csv" and any(a.name in ("writer", "DictWriter") for a in n.names))


def test_no_module_but_csvfile_writes_csv():
    found = [f"{p.relative_to(ROOT)}:{line}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
             for line in _csv_writers(p.read_text())]
    assert found == [], f"write CSV through tailorcast/csvfile.py (it neutralizes formula cells): {found}"
    assert _csv_writers("import csv\nw = csv.DictWriter(fh, [])\nfrom csv import writer\n") == [2, 3]
