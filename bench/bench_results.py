"""What `tailorcast results` costs on a big run: 100,000 customers, 1,000,000 page events, 60,000 payments.

    .venv/bin/python bench/bench_results.py                      # SQLite in a temporary folder
    .venv/bin/python bench/bench_results.py --postgres           # a throw-away PostgreSQL (initdb + pg_ctl), as the tests start
    .venv/bin/python bench/bench_results.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

It fills a store at the migrations' head (an experiment with two arms and a 10 % holdout; events of eight kinds
and chapters; payments by invoice reference, by customer id, and paid invoices of the site), then times
``results.outcomes.run_data`` + ``results.report.build_report`` (the JSON), and ``customer_events`` + ``customer_rows`` (the CSV),
``--repeat`` times each (median and max); prints the plans (EXPLAIN) of the events aggregation and of a lookup of
events by token; and the public server's event ingestion (``Store.add_event``: one transaction per event, as a
request does) with the indexes of migration 0003 (token, and token+kind+detail) and of 0004 (token+kind+detail only),
alternating. Results go to bench/out/results-<database>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
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
TOKEN_SQL = "SELECT kind, detail, at FROM public_events WHERE token = {p} ORDER BY id"  # the public server's Store.events(token)


def query_plans(engine, url: str) -> dict[str, list[str]]:
    """How the database reads a run's events (the covering index, not the table) and one page's events (the same index,
    now that 0004 dropped the token-only one)."""
    queries = {"run_events": (PLAN_SQL, RUN), "events_by_token": (TOKEN_SQL, "t" + "0" * 31)}
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return {name: [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql.format(p="?"), (value,))]
                    for name, (sql, value) in queries.items()}
        finally:
            conn.close()
    with engine.connect() as conn:
        return {name: [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql.format(p="%(v)s"), {"v": value})]
                for name, (sql, value) in queries.items()}


@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL in a temporary folder on a free port (Debian's initdb and pg_ctl; as the postgres user when root), with
    the tests' settings (tests/conftest.py: fsync off); yields the URL of an empty database 'bench'; stopped and removed after."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = shutil.which("initdb") or (found[-1] if found else None)
    if initdb is None:
        sys.exit("no initdb: apt-get install postgresql (Debian), or pass --database-url")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data, sock, log = folder / "data", folder / "sock", folder / "server.log"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        for path in [folder, sock]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], capture_output=True, text=True, cwd=folder)

    try:
        made = run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
        if made.returncode:
            sys.exit(f"initdb failed: {made.stderr.strip()}")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        started = run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        if started.returncode:
            sys.exit(f"PostgreSQL did not start: {started.stderr.strip()}")
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench", run(*([str(Path(initdb).with_name("postgres")), "--version"])).stdout.strip()
    finally:
        if (data / "postmaster.pid").exists():
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def ingestion(engine, store, n: int) -> dict:
    """Events per second, one transaction each, with 0003's indexes (token; token, kind, detail) and 0004's (the second only),
    in alternating thirds so that a change of load hits both alike."""
    from sqlalchemy import text

    rates: dict[str, list[float]] = {"0003_token_and_token_kind_detail": [], "0004_token_kind_detail_only": []}
    for _ in range(3):
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_public_events_token ON public_events (token)"))
        rates["0003_token_and_token_kind_detail"].append(time_ingestion(store, n // 3))
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_public_events_token"))
        rates["0004_token_kind_detail_only"].append(time_ingestion(store, n // 3))
    return {k: {"per_third": [round(r) for r in v], "median": round(sorted(v)[1])} for k, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ingest", type=int, default=3000, help="events written one transaction each, with 0003's and 0004's indexes (0: skip)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=None, help="an empty database (PostgreSQL: upgraded here); default SQLite in a temp folder")
    where.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL for the run (initdb + pg_ctl), stop it after")
    parser.add_argument("--keep", type=Path, default=None, help="SQLite file to fill once and reuse on the next call (filling takes minutes)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server = None
        if args.postgres:
            args.database_url, server = stack.enter_context(throwaway_postgres())
        bench(args, server)


def bench(args, server: str | None) -> None:
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
    database = url.split(":", 1)[0].split("+")[0]
    out = {"machine": {"cpu_model": model, "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "database": database,
                       "server": server, "load": loadavg()}, "git": git_state()}
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
    out["plans"] = query_plans(engine, url)
    for name, lines in out["plans"].items():
        print(f"-- plan: {name}", *lines, sep="\n  ", file=sys.stderr)
    out["results"] = time_results(engine, args.repeat)
    out["machine"]["load_after_results"] = loadavg()
    if args.ingest:
        out["ingestion_events_per_second"] = ingestion(engine, store, args.ingest)
    out["machine"]["load_after"] = loadavg()
    engine.dispose()
    tmp.cleanup()
    dest = Path(__file__).resolve().parent / "out"
    dest.mkdir(exist_ok=True)
    (dest / f"results-{database}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
