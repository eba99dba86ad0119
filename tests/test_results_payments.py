"""The billing system's payments file (results/payments.py): CSV and Parquet, bad rows by number, idempotent import;
and the fixed-horizon sentences of results/planning.py."""

from __future__ import annotations

import datetime as dt

import pytest

from results.identity import customer_key
from results.payments import import_payments, parse_record, read_payments
from results.planning import Horizon, per_arm_size, statement
from store.store import Store
from tailorcast.errors import ResultsInputError

SECRET = b"payments-test-secret-" + b"p" * 32
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


@pytest.fixture
def store(database_url):
    store = Store.open(database_url)
    yield store
    store.close()


def test_a_good_row_becomes_a_record_with_the_customer_as_a_keyed_hash():
    rec = parse_record(2, {"ref": "", "customer_id": " C-0009 ", "paid_at": "2026-11-05", "amount": "70.00", "channel": "Counter"}, SECRET)
    assert (rec.ref, rec.customer_key, rec.paid_at, rec.amount_cents, rec.currency, rec.channel) == (
        None, customer_key(SECRET, "C-0009"), dt.datetime(2026, 11, 5, tzinfo=UTC), 7000, "EUR", "counter")
    assert "C-0009" not in repr(rec)
    zoned = parse_record(3, {"invoice_id": "INV-1", "paid_at": "2026-11-05T10:30:00+01:00", "amount": "1.5", "channel": "online", "currency": "chf"}, SECRET)
    assert (zoned.ref, zoned.paid_at, zoned.amount_cents, zoned.currency) == ("INV-1", dt.datetime(2026, 11, 5, 9, 30, tzinfo=UTC), 150, "CHF")


@pytest.mark.parametrize("rec, column, words", [
    ({"ref": "", "customer_id": "", "paid_at": "2026-11-05", "amount": "1", "channel": "bank"}, "ref", "neither an invoice reference nor a customer id"),
    ({"ref": "INV 1", "paid_at": "2026-11-05", "amount": "1", "channel": "bank"}, "ref", "is not allowed"),
    ({"ref": "INV-1", "paid_at": "05/11/2026", "amount": "1", "channel": "bank"}, "paid_at", "write it like 2026-11-03"),
    ({"ref": "INV-1", "paid_at": "2026-11-05", "amount": "12,50", "channel": "bank"}, "amount", "pass --decimal ,"),
    ({"ref": "INV-1", "paid_at": "2026-11-05", "amount": "-3.00", "channel": "bank"}, "amount", "more than 0"),
    ({"ref": "INV-1", "paid_at": "2026-11-05", "amount": "3.001", "channel": "bank"}, "amount", "whole cents"),
    ({"ref": "INV-1", "paid_at": "2026-11-05", "amount": "3", "channel": "bank", "currency": "euro"}, "currency", "ISO 4217"),
    ({"ref": "INV-1", "paid_at": "2026-11-05", "amount": "3", "channel": "Bank transfer!"}, "channel", "short name"),
])
def test_a_bad_row_names_its_number_and_column_and_how_to_fix_it_never_the_customer_id(rec, column, words):
    from tailorcast.errors import RowError

    with pytest.raises(RowError) as info:
        parse_record(7, {"customer_id": "C-SECRET-1", **rec} if "customer_id" not in rec else rec, SECRET)
    assert (info.value.row, info.value.column) == (7, column) and words in str(info.value)
    assert str(info.value).startswith("row 7") and "C-SECRET-1" not in str(info.value)


def _csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_importing_twice_changes_nothing_and_bad_rows_are_reported_while_the_good_ones_go_in(store, tmp_path):
    path = _csv(tmp_path / "payments.csv", "invoice_ref;customer_id;paid_at;amount;channel\n"
                                           "INV-1;;2026-11-04;45.00;online\n"
                                           ";C-2;2026-11-05;not money;counter\n"
                                           ";C-3;2026-11-06;70.00;counter\n"
                                           ";C-3;2026-11-06;70.00;counter\n")  # the same record twice in one file: once
    first = import_payments(store.engine, path, SECRET, NOW)
    assert (first.rows, first.added, first.already) == (4, 2, 1)
    assert [(e.row, e.column) for e in first.rejected] == [(3, "amount")]
    second = import_payments(store.engine, path, SECRET, NOW)
    assert (second.rows, second.added, second.already, len(second.rejected)) == (4, 0, 3, 1)
    fixed = _csv(tmp_path / "fixed.csv", "invoice_ref,customer_id,paid_at,amount,channel\n,C-2,2026-11-05,12.00,counter\nINV-1,,2026-11-04,45.00,online\n")
    third = import_payments(store.engine, fixed, SECRET, NOW)
    assert (third.added, third.already) == (1, 1)  # only the row that was fixed is new


def test_payment_ids_tell_two_equal_payments_apart(store, tmp_path):
    path = _csv(tmp_path / "p.csv", "ref,paid_at,amount,channel,payment_id\nINV-1,2026-11-04,10.00,online,P-1\nINV-1,2026-11-04,10.00,online,P-2\n")
    assert import_payments(store.engine, path, SECRET, NOW).added == 2


def test_parquet_payments_are_read_with_their_types(store, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from decimal import Decimal

    table = pa.table({"invoice_id": ["INV-1", None], "customer_id": [None, "C-7"],
                      "paid_at": [dt.datetime(2026, 11, 4, 10, 0), dt.datetime(2026, 11, 5, 0, 0)],
                      "amount": pa.array([Decimal("45.00"), Decimal("0.00")], pa.decimal128(10, 2)), "channel": ["online", "bank"]})
    pq.write_table(table, tmp_path / "payments.parquet")
    rows = list(read_payments(tmp_path / "payments.parquet"))
    assert [n for n, _ in rows] == [1, 2]
    done = import_payments(store.engine, tmp_path / "payments.parquet", SECRET, NOW)
    assert (done.added, [(e.row, e.column) for e in done.rejected]) == (1, [(2, "amount")])


@pytest.mark.parametrize("name, content, words", [
    ("p.xlsx", "x", "export the payments as .csv or .parquet"),
    ("p.csv", "", "empty file"),
    ("p.csv", "invoice_ref;paid_at;paid_at;amount;channel\n", "more than once"),
    ("p.csv", "invoice_ref,paid_at,channel\nINV-1,2026-11-04,online\n", "missing columns: amount"),
    ("p.csv", "paid_at,amount,channel\n2026-11-04,1,online\n", "missing columns: ref or customer_id"),
    ("p.parquet", "not parquet at all", "not a Parquet file"),
])
def test_a_file_that_cannot_be_read_is_one_clear_error(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ResultsInputError, match=words):
        list(read_payments(path))
    with pytest.raises(ResultsInputError, match="no such file"):
        list(read_payments(tmp_path / "missing.csv"))


def test_a_byte_that_is_not_utf8_costs_its_row_and_names_the_encoding_option(store, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("ref,paid_at,amount,channel,note\nINV-1,2026-11-04,1.00,bank,caf\xe9\nINV-2,2026-11-04,2.00,bank,ok\n".encode("latin-1"))
    done = import_payments(store.engine, path, SECRET, NOW)
    assert (done.rows, done.added) == (2, 1)
    [bad] = done.rejected
    assert (bad.row, bad.column) == (2, "note") and "0xe9 is not UTF-8" in bad.reason and "--encoding" in bad.reason
    assert import_payments(store.engine, path, SECRET, NOW, encoding="latin-1").added == 1  # the row that was refused


# An Italian Excel "CSV (delimitato dal separatore di elenco)": cp1252, no byte order mark, ';' between cells, decimal
# commas with '.' between thousands, an extra column with accents, a blank ';;;;' line, one row short of a cell.
ITALIAN = ("riferimento;customer_id;paid_at;amount;channel;causale\r\n"
           "INV-0001;;2026-11-04;1.234,56;bonifico;Pagamento bolletta è saldata\r\n"
           ";C-0002;2026-11-05T10:30:00;45,00;sportello;Città\r\n"
           ";;;;;\r\n"
           "INV-0003;;2026-11-06;12.50;online;virgola mancante\r\n"
           "INV-0004;;2026-11-07;7,5\r\n"
           "INV-0005;C-0005;2026-11-08;0,99;domiciliazione;\r\n")


def test_an_italian_excel_payments_file_reads_like_a_crm_export(store, tmp_path):
    from sqlalchemy import select

    from store.results import ResultsPayment

    path = tmp_path / "pagamenti.csv"
    path.write_bytes(ITALIAN.replace("riferimento", "invoice_ref").encode("cp1252"))
    done = import_payments(store.engine, path, SECRET, NOW, encoding="cp1252", decimal=",")
    assert (done.rows, done.added, done.already) == (5, 3, 0)  # the blank line is no row
    assert [(e.row, e.column) for e in done.rejected] == [(5, "amount"), (6, "channel")]
    assert "decimal comma" in done.rejected[0].reason and "12.50" in done.rejected[0].reason
    assert "has 4 cells but the header has 6" in done.rejected[1].reason
    with store.engine.connect() as conn:
        stored = {(r.ref, r.customer_key, r.amount_cents, r.channel) for r in conn.execute(select(ResultsPayment))}
    assert stored == set([("INV-0001", None, 123456, "bonifico"), (None, customer_key(SECRET, "C-0002"), 4500, "sportello"),
                             ("INV-0005", customer_key(SECRET, "C-0005"), 99, "domiciliazione")])
    again = import_payments(store.engine, path, SECRET, NOW, encoding="cp1252", decimal=",")
    assert (again.added, again.already, len(again.rejected)) == (0, 3, 2)  # idempotent
    # the same file saved as "CSV UTF-8" (a byte order mark) needs no --encoding, and is the same records
    bom = tmp_path / "pagamenti-utf8.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + ITALIAN.replace("riferimento", "invoice_ref").encode("utf-8"))
    assert (lambda d: (d.added, d.already))(import_payments(store.engine, bom, SECRET, NOW, decimal=",")) == (0, 3)


def test_the_italian_file_without_decimal_comma_says_to_pass_it_and_an_excel_sep_line_is_followed(store, tmp_path):
    path = tmp_path / "pagamenti.csv"
    path.write_bytes(("sep=;\r\n" + ITALIAN.replace("riferimento", "invoice_ref")).encode("cp1252"))
    done = import_payments(store.engine, path, SECRET, NOW, encoding="cp1252")
    assert [(e.row, e.column) for e in done.rejected][:2] == [(2, "amount"), (3, "amount")]
    assert "pass --decimal ," in done.rejected[1].reason  # '45,00'
    assert done.added == 1  # only 12.50 reads as a number with a decimal point


def test_import_payments_on_the_command_line_with_encoding_decimal_and_an_error_report(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tailorcast.cli import main
    from tailorcast.csvfile import read_rows

    monkeypatch.setenv("TAILORCAST_SECRET", SECRET.decode())
    monkeypatch.delenv("TAILORCAST_DATABASE_URL", raising=False)
    path = tmp_path / "pagamenti.csv"
    path.write_bytes(ITALIAN.replace("riferimento", "invoice_ref").encode("cp1252"))
    args = ["results", "import-payments", str(path), "--encoding", "cp1252", "--decimal", ",", "--errors", str(tmp_path / "rejected.csv"),
            "--state", str(tmp_path / "state")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1 and "Traceback" not in first.output, first.output
    assert "5 rows, 3 payments added, 0 already imported, 2 rejected" in first.output
    assert "pagamenti.csv: row 5, column 'amount':" in first.output
    report = list(read_rows((tmp_path / "rejected.csv").read_text(encoding="utf-8")))
    assert [(r["row"], r["column"]) for r in report] == [("5", "amount"), ("6", "channel")]
    assert "C-0002" not in (tmp_path / "rejected.csv").read_text(encoding="utf-8")
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 1 and "5 rows, 0 payments added, 3 already imported, 2 rejected" in second.output
    unknown = CliRunner().invoke(main, ["results", "import-payments", str(path), "--encoding", "klingon", "--state", str(tmp_path / "state")])
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.output and "Traceback" not in unknown.output


# ---------------------------------------------------------------- the fixed horizon

def test_per_arm_size_by_hand():
    # 50 % → 60 %: (1.95996·√(2·0.55·0.45) + 0.84162·√(0.25 + 0.24))² / 0.1² = 387.6 → 388
    assert per_arm_size(0.5, 0.1) == 388
    assert per_arm_size(0.4, 0.03) == 4234
    with pytest.raises(ValueError):
        per_arm_size(0.99, 0.05)


def test_no_verdict_before_the_planned_size_and_horizon():
    early = statement("video", "holdout", 0.05, 0.01, 0.09, (0.2, 0.02, 0.4), Horizon(1000, 400, 30, 12), 0.5, 0.001)
    assert early.startswith("Not at its planned size yet: 400 of 1,000 customers in the smallest arm, day 12 of 30")
    assert "gets more" not in early and "+5.0 points (95 % interval +1.0 points to +9.0 points, Newcombe's hybrid score method)" in early
    done = statement("video", "holdout", 0.05, 0.01, 0.09, None, Horizon(1000, 1000, 30, 30), 0.5, 0.001)
    assert done.startswith("At its planned size (1,000 per arm) and 30-day horizon, video gets more bills paid than holdout")
    assert "no difference between" in statement("a", "b", 0.01, -0.02, 0.04, None, Horizon(10, 10, 30, 31), 0.5, 0.001)
    assert "gets fewer" in statement("a", "b", -0.05, -0.08, -0.02, None, Horizon(10, 10, 30, 31), 0.5, 0.001)
    assert statement("a", "b", 0.05, 0.01, 0.09, None, Horizon(None, 10, 30, 31), 0.5, 0.001).startswith("No planned size was declared")
    srm = statement("a", "b", 0.05, 0.01, 0.09, None, Horizon(10, 10, 30, 31), 0.0002, 0.001)
    assert srm.startswith("Sample ratio mismatch (p = 0.0002 < 0.001)") and "gets more" not in srm


def test_a_payment_by_customer_id_counts_for_the_latest_run_sent_before_it_and_a_ledger_payment_wins_over_the_sites(store, tmp_path):
    """Monthly runs of the same customers: October's payment counts for October's run only, November's for November's;
    a payment in the billing file and on the site is counted once (the billing file is the ledger)."""
    import json as _json

    from results.outcomes import run_data
    from results.runs import import_run
    from store.store import Payment
    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from tailorcast.csvfile import csv_bytes

    bucket = LocalBucket(tmp_path / "pub")
    runs = {"bill-oct-000000000001": dt.datetime(2026, 10, 2, tzinfo=UTC), "bill-nov-000000000002": dt.datetime(2026, 11, 2, tzinfo=UTC)}
    for n, (run, sent) in enumerate(runs.items()):
        rows = [{"customer_id": cid, "status": "ok", "variant": "", "arm": "", "ref": f"INV-{n}-{cid}", "token": f"{cid}-{n}".ljust(32, "x")}
                for cid in ("A", "B", "C")]
        bucket.put_bytes(keys.run_file(run, "manifest.csv"), csv_bytes(["customer_id", "status", "variant", "arm", "ref", "token"], rows))
        bucket.put_bytes(keys.run_file(run, "summary.json"), _json.dumps({"template": "bill"}).encode())
        import_run(store.engine, bucket, run, SECRET, sent, NOW)
    path = _csv(tmp_path / "p.csv", "customer_id,invoice_ref,paid_at,amount,channel\n"
                                    "A,,2026-10-15,10.00,bank\n"      # October's run (before November's send date)
                                    "A,,2026-11-10,11.00,bank\n"      # November's run only
                                    ",INV-0-B,2026-11-20,12.00,bank\n"  # October's invoice paid late: October's run, by reference
                                    "C,INV-1-C,2026-11-05,13.00,online\n")  # November's; also paid on the site below
    assert import_payments(store.engine, path, SECRET, NOW).added == 4
    store.pay(Payment("INV-1-C", 1300, "EUR", "C-1".ljust(32, "x")), "webhook", dt.datetime(2026, 11, 5, 10, tzinfo=UTC))
    store.pay(Payment("INV-1-B", 900, "EUR", "B-1".ljust(32, "x")), "webhook", dt.datetime(2026, 11, 6, tzinfo=UTC))  # only on the site
    october, november = (run_data(store.engine, run) for run in runs)
    assert {t[:3]: (round(p.days, 2), p.amount_cents) for t, p in october.payers.items()} == {"A-0": (13.0, {"EUR": 1000}), "B-0": (49.0, {"EUR": 1200})}
    assert {t[:3]: (round(p.days, 2), p.amount_cents) for t, p in november.payers.items()} == {
        "A-1": (8.0, {"EUR": 1100}), "C-1": (3.0, {"EUR": 1300}), "B-1": (4.0, {"EUR": 900})}


def test_three_monthly_runs_a_payment_by_customer_id_belongs_to_the_run_before_the_customers_next_send(store, tmp_path):
    """Three runs of one experiment; customers skip a month, fail a render, pay after their next send or exactly at it.
    A payment by customer id counts for the customer's latest send before it (a run that did not carry them does not
    take it); by reference it counts for that invoice's run whenever it comes. The experiment counts each customer once,
    at their first send that did not fail, alone (``run_data(…, first_in)``) as across the runs (``results.series``)."""
    import json as _json

    from results.outcomes import customer_events, run_data
    from results.runs import import_run
    from results.series import series_customers, series_data
    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from tailorcast.csvfile import csv_bytes
    from tailorcast.spec.model import Arm, Experiment

    declaration = Experiment("tone", (Arm("video", 1.0), Arm("plain", 1.0))).declaration()
    bucket = LocalBucket(tmp_path / "pub")
    runs = {"bill-sep-000000000001": (dt.datetime(2026, 9, 2, 8, tzinfo=UTC), {"A": "ok", "B": "ok", "C": "failed", "D": "ok"}),
            "bill-oct-000000000002": (dt.datetime(2026, 10, 2, 8, tzinfo=UTC), {"A": "ok", "C": "ok", "E": "ok"}),  # B and D skip October
            "bill-nov-000000000003": (dt.datetime(2026, 11, 2, 8, tzinfo=UTC), {"A": "ok", "B": "ok", "D": "ok", "E": "ok"})}
    arm = {"A": "video", "B": "plain", "C": "video", "D": "plain", "E": "video"}
    tokens = {}
    for n, (run, (sent, statuses)) in enumerate(runs.items()):
        rows = [{"customer_id": cid, "status": status, "variant": "", "arm": arm[cid], "ref": f"INV-{n}-{cid}", "token": f"{cid}-{n}".ljust(32, "x")}
                for cid, status in statuses.items()]
        tokens.update({r["token"]: (run, r["customer_id"]) for r in rows})
        bucket.put_bytes(keys.run_file(run, "manifest.csv"), csv_bytes(["customer_id", "status", "variant", "arm", "ref", "token"], rows))
        bucket.put_bytes(keys.run_file(run, "summary.json"), _json.dumps({"template": "bill", "experiment": declaration}).encode())
        import_run(store.engine, bucket, run, SECRET, sent, NOW)
    path = _csv(tmp_path / "p.csv", "customer_id,invoice_ref,paid_at,amount,channel\n"
                                    "A,,2026-09-20,10.00,bank\n"               # September's (17.67 days)
                                    "A,,2026-10-02T08:00:00Z,11.00,bank\n"     # at October's send: October's, not September's
                                    "A,,2026-10-20,12.00,bank\n"               # October's too
                                    "A,,2026-11-05T08:00:00Z,13.00,bank\n"     # November's
                                    "B,,2026-10-15T08:00:00Z,20.00,bank\n"     # after October's send, which B skipped: September's
                                    ",INV-0-B,2026-11-10T08:00:00Z,22.00,bank\n"  # September's invoice, late: September's by reference
                                    "B,,2026-11-03T08:00:00Z,21.00,bank\n"     # November's
                                    "D,,2026-10-05T08:00:00Z,30.00,bank\n"     # September's (D's next send is November's)
                                    "C,,2026-10-10T08:00:00Z,40.00,bank\n"     # October's: C's September send failed, but was a send
                                    "E,,2026-12-20T08:00:00Z,50.00,bank\n")    # November's (after E's next send)
    assert import_payments(store.engine, path, SECRET, NOW).added == 10

    def paid(payers) -> dict:
        return {tokens[t]: (round(p.days, 2), p.amount_cents["EUR"]) for t, p in payers.items()}

    sep, oct_, nov = runs
    alone = {run: paid(run_data(store.engine, run).payers) for run in runs}
    assert alone == {
        sep: {(sep, "A"): (17.67, 1000), (sep, "B"): (43.0, 4200), (sep, "D"): (33.0, 3000)},
        oct_: {(oct_, "A"): (0.0, 2300), (oct_, "C"): (8.0, 4000)},
        nov: {(nov, "A"): (3.0, 1300), (nov, "B"): (1.0, 2100), (nov, "E"): (48.0, 5000)}}
    assert {run: paid(customer_events(store.engine, run)[2]) for run in runs} == alone
    # the experiment: A, B, D at September's send (C's failed, counted as failed), C and E at October's, nobody at November's
    first = {run: run_data(store.engine, run, "tone") for run in runs}
    assert {run: sorted(first[run].sizes.items()) for run in runs} == {
        sep: [(("plain", None, "ok"), 2), (("video", None, "failed"), 1), (("video", None, "ok"), 1)],
        oct_: [(("video", None, "ok"), 2)], nov: []}
    assert {run: paid(first[run].payers) for run in runs} == {
        sep: alone[sep], oct_: {(oct_, "C"): (8.0, 4000)}, nov: {}}
    data, listed = series_data(store.engine, None, "tone")
    assert [(r["run_id"], r["counted"]) for r in listed] == [(sep, 3), (oct_, 2), (nov, 0)]
    assert paid(data.payers) == {**alone[sep], (oct_, "C"): (8.0, 4000)}
    assert sorted(data.sizes.items()) == [(("plain", None, "ok"), 2), (("video", None, "failed"), 1), (("video", None, "ok"), 3)]
    assert [(r["run"], tokens[r["token"]][1], r["paid"]) for r in series_customers(store.engine, None, "tone")] == [
        (sep, "A", 1), (sep, "B", 1), (sep, "C", 0), (sep, "D", 1), (oct_, "C", 1), (oct_, "E", 0)]
    # the template pools every send, each with its own payments
    sends, _ = series_data(store.engine, "bill", None)
    assert paid(sends.payers) == {**alone[sep], **alone[oct_], **alone[nov]}
    assert len(series_customers(store.engine, "bill", None)) == 11
