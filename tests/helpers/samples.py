"""The repository's sample templates and rows; copies of a template to break in a test."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "templates" / "bill-explainer"
SAMPLE_CSV = TEMPLATE_DIR / "sample-customers.csv"
REMINDER_DIR = ROOT / "templates" / "payment-reminder"


def copy_template(src: Path, tmp_path: Path) -> Path:
    """A copy of a template folder to break in a test (without sample data or scripts)."""
    dst = tmp_path / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.csv", "__pycache__", "*.py"))
    return dst


def edit_file(folder: Path, old: str, new: str, name: str = "template.yaml") -> None:
    """Replace ``old`` (which must be there) once in a template file."""
    path = folder / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def pick_rows(src: Path, ids: Iterable[str], dest: Path) -> Path:
    """The rows of a sample file whose customer id is in ``ids``, in sample-file order, written to ``dest``."""
    from tailorcast.customers import write_customers

    wanted = set(ids)
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["customer_id"] in wanted]
        fields = reader.fieldnames
    assert wanted <= {r["customer_id"] for r in rows}, f"not in {src.name}: {sorted(wanted - {r['customer_id'] for r in rows})}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_customers(dest, fields, rows)
    return dest
