"""What `tailorcast results` costs on a big run: 100,000 customers, 1,000,000 page events, 60,000 payments.

    .venv/bin/python bench/bench_results.py                      # SQLite in a temporary folder
    .venv/bin/python bench/bench_results.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

It fills a store at the migrations' head (an experiment with two arms and a 10 % holdout; events of eight kinds
and chapters; payments by invoice reference, by customer id, and paid invoices of the site), then times
``results.outcomes.run_data`` + ``results.report.build_report`` (the JSON), and ``customer_events`` + ``customer_rows`` (the CSV),
three times each; and the public server's event ingestion (``Store.add_event``: one transaction per event, as a
request does) with and without the results index on ``public_events``. Results go to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import git_state, loadavg, stats  # noqa: E402

KINDS = ("view", "play_25", "play_50", "play_75", "play_100", "chapter", "cta_click", "pay_started")
SCENES = ("intro", "amount", "usage", "pay", "help")
UTC = dt.timezone.utc
SENT = dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
RUN = "bench-results-000000000000"


def fill(engine, customers: int, events: int, payments: int, seed: int = 7) -> dict:
    from sqlalchemy import insert

    from results.identity import customer_key
    from store.models import Invoice, SiteEvent
    from store.results import ResultsCustomer, ResultsPayment, ResultsRun
    from tailorcast.experiments import assign_arm
    from tailorcast.spec.model import Arm, Experiment

    rng = random.Random(seed)
    secret = b"bench-secret-" + b"b" * 32
    experiment = Experiment("bench-tone", (Arm("video", 1.0), Arm("plain", 1.0)), holdout=0.1, planned_per_arm=40000)
    ids = [f"C-{i:07d}" for i in range(customers)]
    tokens = [f"t{i:031d}" for i in range(customers)]
    arms = [assign_arm(experiment, c) for c in ids]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(ResultsRun).values(run_id=RUN, template="bench", experiment=experiment.id,
                                               declaration=json.dumps(experiment.declaration()), sent_at=SENT, imported_at=SENT))
        rows = [{"run_id": RUN, "token": t, "customer_key": customer_key(secret, c), "ref": f"INV-{i:07d}", "variant": "friendly",
                 "arm": a, "status": "holdout" if a == "holdout" else "ok"} for i, (c, t, a) in enumerate(zip(ids, tokens, arms, strict=True))]
        for s in range(0, len(rows), 20000):
            conn.execute(insert(ResultsCustomer), rows[s:s + 20000])
        seen = [t for t, a in zip(tokens, arms, strict=True) if a != "holdout"]
        batch = []
        for n in range(events):
            kind = KINDS[min(int(rng.expovariate(0.6)), len(KINDS) - 1)]
            batch.append({"token": rng.choice(seen), "kind": kind, "detail": rng.choice(SCENES) if kind == "chapter" else None,
                          "at": SENT + dt.timedelta(seconds=rng.randrange(30 * 86400))})
            if len(batch) == 50000 or n == events - 1:
                conn.execute(insert(SiteEvent), batch)
                batch = []
        ledger = []
        for n, i in enumerate(rng.sample(range(customers), payments)):
            by_ref = n % 2 == 0
            ledger.append({"row_key": f"{n:064x}", "ref": f"INV-{i:07d}" if by_ref else None,
                           "customer_key": None if by_ref else customer_key(secret, ids[i]),
                           "paid_at": SENT + dt.timedelta(seconds=rng.randrange(-3 * 86400, 45 * 86400)), "amount_cents": rng.randrange(1000, 30000),
                           "currency": "EUR", "channel": rng.choice(("online", "bank", "counter")), "imported_at": SENT})
        for s in range(0, len(ledger), 20000):
            conn.execute(insert(ResultsPayment), ledger[s:s + 20000])
        site = [{"ref": f"SITE-{i:07d}", "token": tokens[i], "amount_cents": 5000, "currency": "EUR", "issued_at": SENT,
                 "paid_at": SENT + dt.timedelta(hours=rng.randrange(1, 24 * 20)), "paid_cents": 5000, "paid_via": "webhook"}
                for i in rng.sample(range(customers), customers // 5) if arms[i] != "holdout"]
        conn.execute(insert(Invoice), site)
    return {"customers": customers, "events": events, "payments": payments, "site_payments": len(site), "fill_seconds": round(time.perf_counter() - t0, 1)}


def time_results(engine, repeat: int) -> dict:
    from results.outcomes import customer_events, run_data
    from results.report import build_report, customer_rows
    from tailorcast.csvfile import csv_bytes

    json_s, csv_s, json_cpu, csv_cpu = [], [], [], []
    report = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        report = build_report(run_data(engine, RUN), SENT + dt.timedelta(days=40))
        json.dumps(report)
        json_s.append(time.perf_counter() - t0)
        json_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        _, rows, payers = customer_events(engine, RUN)
        csv_bytes(("token", "arm", "events", "paid"), customer_rows(rows, payers))
        csv_s.append(time.perf_counter() - t0)
        csv_cpu.append(time.process_time() - c0)
    return {"json_seconds": stats(json_s), "json_cpu_seconds": stats(json_cpu), "csv_seconds": stats(csv_s), "csv_cpu_seconds": stats(csv_cpu),
            "arms": {a["name"]: {k: a[k] for k in ("sent", "opened", "started", "completed", "paid")} for a in report["arms"]}}


def time_ingestion(store, n: int) -> float:
    token = "i" * 32
    t0 = time.perf_counter()
    for k in range(n):
        store.add_event(token, KINDS[k % len(KINDS)], None, SENT)
    return n / (time.perf_counter() - t0)


PLAN_SQL = ("SELECT c.token, sum(DISTINCT CASE e.kind WHEN 'view' THEN 1 WHEN 'play_25' THEN 2 ELSE 0 END) FROM results_customers c "
            "JOIN public_events e ON e.token = c.token WHERE c.run_id = {p} GROUP BY c.token")


def query_plan(engine, url: str) -> list[str]:
    """How the database reads the run's events: the covering index, not the table."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + PLAN_SQL.format(p="?"), (RUN,))]
        finally:
            conn.close()
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + PLAN_SQL.format(p="%(run)s"), {"run": RUN})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ingest", type=int, default=3000, help="events written one transaction each, with and without the index (0: skip)")
    parser.add_argument("--database-url", default=None, help="an empty database (PostgreSQL: created and upgraded here); default SQLite in a temp folder")
    parser.add_argument("--keep", type=Path, default=None, help="SQLite file to fill once and reuse on the next call (filling takes minutes)")
    args = parser.parse_args()

    from sqlalchemy import text

    from store.database import open_engine
    from store.migrate import upgrade
    from store.store import Store

    tmp = tempfile.TemporaryDirectory(prefix="bench-results-")
    reuse = args.keep is not None and args.keep.exists()
    url = args.database_url or f"sqlite:///{args.keep or Path(tmp.name) / 'results.db'}"
    engine = open_engine(url)
    upgrade(engine)
    store = Store(engine)
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    out = {"machine": {"cpu_model": model, "sqlite": sqlite3.sqlite_version, "database": url.split(":", 1)[0], "load": loadavg()}, "git": git_state()}
    if reuse:
        with engine.connect() as conn:
            out["data"] = {"reused": str(args.keep), "customers": conn.execute(text("SELECT count(*) FROM results_customers")).scalar(),
                           "events": conn.execute(text("SELECT count(*) FROM public_events")).scalar()}
    else:
        out["data"] = fill(engine, args.customers, args.events, args.payments)
        if url.startswith("sqlite"):
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:  # VACUUM (for index-only scans: the visibility map) cannot run in a transaction
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    out["plan"] = query_plan(engine, url)
    out["results"] = time_results(engine, args.repeat)
    if args.ingest:  # alternate with and without the index, so a change of load hits both alike
        rates: dict[str, list[float]] = {"with_results_index": [], "without": []}
        for _ in range(3):
            rates["with_results_index"].append(time_ingestion(store, args.ingest // 3))
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_public_events_token_kind_detail"))
            rates["without"].append(time_ingestion(store, args.ingest // 3))
            with engine.begin() as conn:
                conn.execute(text("CREATE INDEX ix_public_events_token_kind_detail ON public_events (token, kind, detail)"))
        out["ingestion_events_per_second"] = {k: [round(r) for r in v] for k, v in rates.items()}
    out["machine"]["load_after"] = loadavg()
    engine.dispose()
    tmp.cleanup()
    dest = Path(__file__).resolve().parent / "out"
    dest.mkdir(exist_ok=True)
    (dest / "results.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
