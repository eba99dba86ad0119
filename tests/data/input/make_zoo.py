"""Writes the bad-input zoo: customers files as billing systems and people really produce them.

Each file is read with template bill-explainer; ``<file>.expected.json`` next to it holds its expected report
(``tests/test_input_zoo.py`` reads both). Run from the repository root to write the files again:

    .venv/bin/python tests/data/input/make_zoo.py

The rows come from templates/bill-explainer/sample-customers.csv, so the valid ones are valid there too.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[2] / "templates" / "bill-explainer" / "sample-customers.csv"
MONEY = ("amount_due", "energy_charge", "network_charge", "taxes")


def sample() -> tuple[list[str], list[dict[str, str]]]:
    with SAMPLE.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


HEADER, ROWS = sample()
GOOD = ROWS[:5]  # CUST-00001 … CUST-00005: it, fr, tr, id, en; all valid


def text_csv(rows: list[dict], delimiter: str = ",", line_end: str = "\n", header: list[str] = HEADER) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=line_end)  # exports as other programs write them
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return buf.getvalue()


def comma_decimals(r: dict) -> dict:
    """A row as an Italian Excel writes it: 1.234,56 and 84,20."""
    out = dict(r)
    for f in MONEY:
        if out[f]:
            d = Decimal(out[f])
            whole, _, cents = f"{d:.2f}".partition(".")
            groups = f"{int(whole):,}".replace(",", ".")
            out[f] = f"{groups},{cents}"
    return out


def with_(r: dict, **cells: str) -> dict:
    return {**r, **cells}


def files() -> dict[str, bytes]:
    z: dict[str, bytes] = {}
    # one row of a UTF-8 export holds a name typed on a cp1252 machine
    z["bad-bytes.csv"] = text_csv(GOOD[:4]).encode().replace(b"Camille", b"H\xe9l\xe8ne")
    # an Italian Excel export: ';', a byte order mark, CRLF, decimal commas (one amount above a thousand)
    italian = [comma_decimals(r) for r in GOOD]
    italian[1] = with_(italian[1], amount_due="1.234,56")
    z["italian-excel.csv"] = codecs.BOM_UTF8 + text_csv(italian, ";", "\r\n").encode()
    # a ';' export with dot decimals: the delimiter alone differs
    z["semicolon.csv"] = text_csv(GOOD, ";").encode()
    z["pipe.csv"] = text_csv(GOOD[:3], "|").encode()
    z["sep-line.csv"] = b"sep=;\r\n" + text_csv(GOOD[:3], ";", "\r\n").encode()
    z["wrong-types.csv"] = text_csv([
        GOOD[0],
        with_(GOOD[1], amount_due="12,50€"),
        with_(GOOD[2], due_date="15/12/2026"),
        with_(GOOD[3], kwh="1;2;3"),
        with_(GOOD[4], email="not-an-email"),
        with_(ROWS[5], locale="zz"),
        with_(ROWS[6], kwh="1;2;3;4;5;6;7;8;9;10;11;n/a"),
    ]).encode()
    lines = text_csv(GOOD).splitlines()
    lines[2] = lines[2].rsplit(",", 3)[0]  # the last 3 cells are missing
    lines[3] = lines[3].replace("İsmail,Yılmaz", "İsmail,Yılmaz, jr.")  # an unquoted comma: one cell too many
    lines[4] = lines[4].replace(",Siti,", ",,")  # a required cell left empty
    lines.insert(5, "")  # a blank line
    lines.insert(6, "," * (len(HEADER) - 1))  # a blank row as Excel writes it
    z["missing-cells.csv"] = ("\n".join(lines) + "\n").encode()
    z["duplicate-ids.csv"] = text_csv([GOOD[0], GOOD[1], with_(GOOD[2], customer_id="CUST-00001"), with_(GOOD[3], customer_id=" CUST-00002 "), GOOD[4]]).encode()
    z["empty.csv"] = b""
    z["header-only.csv"] = text_csv([]).encode()
    z["bom.csv"] = codecs.BOM_UTF8 + text_csv(GOOD[:3]).encode()
    z["crlf.csv"] = text_csv([GOOD[0], with_(GOOD[1], last_name="Dubois\r\nc/o Martin"), GOOD[2]], line_end="\r\n").encode()
    # a Windows export: accents in cp1252, and one byte (0x81) that cp1252 does not define
    cp = [with_(GOOD[1], first_name="Hélène", last_name="Lefèvre"), with_(GOOD[0], first_name="Niccolò"), with_(ROWS[5], first_name="Zoë"),
          with_(ROWS[6], first_name="Bad")]
    z["cp1252.csv"] = text_csv(cp).encode("cp1252").replace(b",Bad,", b",B\x81d,")
    lines = text_csv(GOOD).splitlines()
    lines[2] = lines[2].replace(",Camille,", ',"Camille,')  # a quote that is never closed
    z["unclosed-quote.csv"] = ("\n".join(lines) + "\n").encode()
    z["excel-unicode.csv"] = text_csv(GOOD[:3], "\t", "\r\n").encode("utf-16")  # Excel's "Unicode text": UTF-16 with a BOM, tabs
    z.update(parquet_files())
    jsonl = [
        json.dumps(GOOD[0], ensure_ascii=False).encode(),
        b'{"customer_id": "CUST-00002", "first_name": ',  # cut off
        b"[1, 2, 3]",
        b"",
        json.dumps(GOOD[2], ensure_ascii=False).encode().replace("İsmail".encode(), b"\xffsmail"),
        json.dumps(with_(GOOD[3], amount_due="abc")).encode(),
        json.dumps({**GOOD[4], "amount_due": 61.89, "kwh": [int(x) for x in GOOD[4]["kwh"].split(";")]}).encode(),
    ]
    z["broken-line.jsonl"] = b"\n".join(jsonl) + b"\n"
    return z


def parquet_files() -> dict[str, bytes]:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(rows: list[dict], due_type: str = "date") -> pa.Table:
        cols = {h: [r[h] or None for r in rows] for h in HEADER if h not in MONEY + ("due_date", "period_end", "kwh")}
        for f in MONEY:
            cols[f] = pa.array([Decimal(r[f]) if r[f] else None for r in rows], pa.decimal128(10, 2))
        for f in ("due_date", "period_end"):
            days = [dt.date.fromisoformat(r[f]) for r in rows]
            cols[f] = pa.array([int(d.strftime("%Y%m%d")) for d in days], pa.int64()) if due_type == "int" and f == "due_date" else pa.array(days, pa.date32())
        cols["kwh"] = pa.array([[int(x) for x in r["kwh"].split(";")] for r in rows], pa.list_(pa.int32()))
        return pa.table(cols)

    def write(t: pa.Table, **kw) -> bytes:
        buf = io.BytesIO()
        pq.write_table(t, buf, **kw)
        return buf.getvalue()

    typed = [GOOD[0], with_(GOOD[1], first_name=""), with_(GOOD[2], locale="zz"), GOOD[3], with_(GOOD[4], customer_id="CUST-00001")]
    return {
        "typed.parquet": write(table(typed), row_group_size=2),  # three row groups
        "wrong-column-type.parquet": write(table(GOOD[:3], due_type="int")),
    }


if __name__ == "__main__":
    for name, data in files().items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
