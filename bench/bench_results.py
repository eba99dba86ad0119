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

    .venv/bin/python bench/bench_results.py --months 3 --repeat 3 --ingest 0   # the across-runs report (results.series)

``--months N`` fills N monthly runs of that experiment and template instead, each as big as the one run: the same customers
(ids, so keys and arms) each month with new tokens and invoices, 5 % of each month's customers new; then times the last run's
report and ``series_report`` (experiment, template) and ``series_customers`` (experiment), with the server's CPU on a local
PostgreSQL, and prints the plans of the first-send queries. Results go to bench/out/results-<database>-months<N>.json.
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


def month_sent(month: int) -> dt.datetime:
    """The send date of the ``month``-th monthly run: SENT, then the same day of each following month."""
    y, m = divmod(SENT.month - 1 + month, 12)
    return SENT.replace(year=SENT.year + y, month=m + 1)


def month_run(month: int) -> str:
    """Run ids ``bench-results-000000000000``, ``…001``: the first (and with one month, only) run is RUN."""
    return f"{RUN[:-12]}{month:012d}"


def fill(engine, customers: int, events: int, payments: int, seed: int = 7, months: int = 1, new_share: float = 0.05) -> dict:
    """``months`` monthly runs of one experiment and template, each as big as one run (``customers``, ``events``,
    ``payments``): month m carries customers ``m * new_share * customers`` on, so the same customer (id, key and arm)
    comes back each month with a new token, and ``new_share`` of each month's customers are sent for the first time.
    With one month: the one run RUN, exactly as before."""
    from tailorcast.experiments import assign_arm
    from tailorcast.spec.model import Arm, Experiment

    experiment = Experiment("bench-tone", (Arm("video", 1.0), Arm("plain", 1.0)), holdout=0.1, planned_per_arm=40000)
    t0 = time.perf_counter()
    shift = round(new_share * customers)
    arm_of: dict[int, str] = {}
    filled = []
    for month in range(months):
        first = month * shift
        for i in range(first, first + customers):
            if i not in arm_of:
                arm_of[i] = assign_arm(experiment, f"C-{i:07d}")
        filled.append(fill_run(engine, experiment, month, range(first, first + customers), arm_of, events, payments, random.Random(seed + 1000 * month)))
    out = {"customers": customers, "events": events, "payments": payments, "site_payments": filled[0]}
    if months > 1:
        out.update(months=months, distinct_customers=len(arm_of), new_per_month=shift, site_payments=sum(filled),
                   runs=[month_run(m) for m in range(months)])
    out["fill_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def fill_run(engine, experiment, month: int, numbers: range, arm_of: dict[int, str], events: int, payments: int, rng: random.Random) -> int:
    """One monthly run: its customers (numbers), page events, billing payments and site invoices; the site payments made.
    Month 0's tokens, references and row keys are the one-run benchmark's; later months' differ by a month prefix."""
    from sqlalchemy import insert

    from results.identity import customer_key
    from store.models import Invoice, SiteEvent
    from store.results import ResultsCustomer, ResultsPayment, ResultsRun

    secret = b"bench-secret-" + b"b" * 32
    run, sent, tag = month_run(month), month_sent(month), f"{month}-" if month else ""
    ids = [f"C-{i:07d}" for i in numbers]
    tokens = [f"t{month * 10**28 + i:031d}" for i in numbers]
    arms = [arm_of[i] for i in numbers]
    with engine.begin() as conn:
        conn.execute(insert(ResultsRun).values(run_id=run, template="bench", experiment=experiment.id,
                                               declaration=json.dumps(experiment.declaration()), sent_at=sent, imported_at=sent))
        rows = [{"run_id": run, "token": t, "customer_key": customer_key(secret, c), "ref": f"INV-{tag}{i:07d}", "variant": "friendly",
                 "arm": a, "status": "holdout" if a == "holdout" else "ok"} for i, c, t, a in zip(numbers, ids, tokens, arms, strict=True)]
        for s in range(0, len(rows), 20000):
            conn.execute(insert(ResultsCustomer), rows[s:s + 20000])
        seen = [t for t, a in zip(tokens, arms, strict=True) if a != "holdout"]
        batch = []
        for n in range(events):
            kind = KINDS[min(int(rng.expovariate(0.6)), len(KINDS) - 1)]
            batch.append({"token": rng.choice(seen), "kind": kind, "detail": rng.choice(SCENES) if kind == "chapter" else None,
                          "at": sent + dt.timedelta(seconds=rng.randrange(30 * 86400))})
            if len(batch) == 50000 or n == events - 1:
                conn.execute(insert(SiteEvent), batch)
                batch = []
        ledger = []
        for n, k in enumerate(rng.sample(range(len(numbers)), payments)):
            by_ref = n % 2 == 0
            ledger.append({"row_key": f"{month * 10**12 + n:064x}", "ref": f"INV-{tag}{numbers[k]:07d}" if by_ref else None,
                           "customer_key": None if by_ref else customer_key(secret, ids[k]),
                           "paid_at": sent + dt.timedelta(seconds=rng.randrange(-3 * 86400, 45 * 86400)), "amount_cents": rng.randrange(1000, 30000),
                           "currency": "EUR", "channel": rng.choice(("online", "bank", "counter")), "imported_at": sent})
        for s in range(0, len(ledger), 20000):
            conn.execute(insert(ResultsPayment), ledger[s:s + 20000])
        site = [{"ref": f"SITE-{tag}{numbers[k]:07d}", "token": tokens[k], "amount_cents": 5000, "currency": "EUR", "issued_at": sent,
                 "paid_at": sent + dt.timedelta(hours=rng.randrange(1, 24 * 20)), "paid_cents": 5000, "paid_via": "webhook"}
                for k in rng.sample(range(len(numbers)), len(numbers) // 5) if arms[k] != "holdout"]
        conn.execute(insert(Invoice), site)
    return len(site)


def run_steps(engine, run: str, now: dt.datetime) -> dict:
    """One run's report as ``tailorcast results RUN`` computes it: ``json`` (run_data + build_report + json.dumps: what
    ``--format json`` and the studio page cost; returns the report) and ``csv`` (customer_events + customer_rows + csv_bytes)."""
    from results.outcomes import customer_events, run_data
    from results.report import CSV_FIELDS, build_report, customer_rows
    from tailorcast.csvfile import csv_bytes

    def as_json():
        report = build_report(run_data(engine, run), now)
        json.dumps(report)
        return report

    def as_csv():
        _, rows, payers = customer_events(engine, run)
        return len(csv_bytes(CSV_FIELDS, customer_rows(rows, payers)))

    return {"json": as_json, "csv": as_csv}


def time_results(engine, repeat: int, run: str = RUN, now: dt.datetime = SENT + dt.timedelta(days=40)) -> dict:
    """One run's report, the JSON and the CSV, ``repeat`` times each."""
    timed = time_steps(run_steps(engine, run, now), repeat)
    return {**{f"{step}_{what}": v for step, figures in timed.items() if step != "last" for what, v in figures.items()},
            "arms": arm_counts(timed["last"]["json"])}


def time_steps(steps: dict, repeat: int, server=None) -> dict:
    """Each step (a call), ``repeat`` rounds of the steps in turn: wall and CPU (this process) of each call, and the load before it;
    with ``server`` (a function: the database server's CPU-seconds so far), the server's CPU during the call too.
    ``["last"]``: each step's last result."""
    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    served: dict[str, list[float]] = {name: [] for name in steps}
    load: dict[str, list[float]] = {name: [] for name in steps}
    last = {}
    for _ in range(repeat):
        for name, call in steps.items():
            load[name].append(os.getloadavg()[0])
            s0 = server() if server else 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            last[name] = call()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            served[name].append((server() if server else 0.0) - s0)
    out = {name: {"seconds": stats(wall[name]), "cpu_seconds": stats(cpu[name]), "load_1min": [round(x, 2) for x in load[name]],
                  **({"server_cpu_seconds": stats(served[name])} if server else {})} for name in steps}
    return {**out, "last": last}


def postgres_cpu(url: str):
    """For a PostgreSQL on this machine (the URL's port on 127.0.0.1 or localhost): a function giving its CPU-seconds so far
    (user + system, from /proc: the postmaster's own and its finished children's, and every live child's: backends,
    parallel workers, the checkpointer…); None for SQLite or a server not found here."""
    from sqlalchemy.engine import make_url

    where = make_url(url)
    if not where.drivername.startswith("postgresql") or where.host not in ("127.0.0.1", "localhost"):
        return None
    port = str(where.port or 5432)
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid: str) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # [0] state, [1] ppid, [11] utime … [14] cstime

    master = None
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if proc.name.isdigit() and argv[0].endswith(b"/postgres") and b"-p" in argv and argv[argv.index(b"-p") + 1].decode() == port:
                master = proc.name
    if master is None:
        return None

    def so_far() -> float:
        ticks = sum(int(v) for v in stat(master)[11:15])
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError, IndexError):
                if proc.name.isdigit() and proc.name != master and (f := stat(proc.name))[1] == master:
                    ticks += int(f[11]) + int(f[12])
        return ticks / tick

    return so_far


def arm_counts(report: dict) -> dict:
    return {a["name"]: {k: a[k] for k in ("sent", "opened", "started", "completed", "paid")} for a in report["arms"]}


def time_series(engine, repeat: int, runs: list[str], now: dt.datetime, server=None) -> dict:
    """Across the runs (results.series), as ``tailorcast results --experiment bench-tone`` and ``--template bench`` compute it:
    the JSON (``series_report`` + ``json.dumps``) for the experiment and for the template, and the experiment's CSV
    (``series_customers`` + ``csv_bytes``); first the last run alone (``tailorcast results RUN``), for the ratios."""
    from results.series import SERIES_CSV_FIELDS, series_customers, series_report
    from tailorcast.csvfile import csv_bytes

    def report(template, experiment):
        out = series_report(engine, template, experiment, now)
        json.dumps(out)
        return out

    last_run = run_steps(engine, runs[-1], now)
    timed = time_steps({"last_run_json": last_run["json"], "last_run_csv": last_run["csv"],
                        "experiment_json": lambda: report(None, "bench-tone"), "template_json": lambda: report("bench", None),
                        "experiment_csv": lambda: len(csv_bytes(SERIES_CSV_FIELDS, series_customers(engine, None, "bench-tone")))}, repeat, server)
    last = timed.pop("last")
    timed["counts"] = {"last_run": arm_counts(last["last_run_json"]), "experiment": arm_counts(last["experiment_json"]),
                       "template": arm_counts(last["template_json"]), "experiment_csv_bytes": last["experiment_csv"],
                       "experiment_runs": last["experiment_json"]["scope"]["runs"]}
    return timed


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


def first_send_plans(engine, run: str, experiment: str) -> list[dict]:
    """The plans of the statements of ``run``'s report in the experiment's series that read its first sends (the temporary
    table ``tc_first_sends`` that results.outcomes.first_sends fills, and that fill) or bound the payments by customer id
    with the next send, taken from the statements and parameters really executed, on the connection that holds the table."""
    from sqlalchemy import event

    from results.outcomes import counted, first_sends, run_info

    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(("SELECT", "INSERT")) and ("tc_first_sends" in statement or "min(results_runs_1.sent_at)" in statement):
            sent.append((statement, parameters))

    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    info = run_info(engine, run)
    with engine.connect() as conn:
        event.listen(engine, "before_cursor_execute", keep)
        try:
            with first_sends(conn, experiment, [info]) as firsts:
                counted(conn, info, firsts)
                return [{"sql": " ".join(statement.split()), "plan": [row[-1] if engine.dialect.name == "sqlite" else row[0]
                                                                      for row in conn.exec_driver_sql(explain + statement, parameters)]}
                        for statement, parameters in list(sent)]
        finally:
            event.remove(engine, "before_cursor_execute", keep)


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
    parser.add_argument("--months", type=int, default=None, metavar="N",
                        help="N monthly runs of the experiment (the same customers, 5 %% new each month, new tokens), then the across-runs "
                             "report timed too (results.series); output results-<database>-months<N>.json (default: 1 run, as before)")
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
    from store.migrate import current_revision, upgrade
    from store.store import Store

    tmp = tempfile.TemporaryDirectory(prefix="bench-results-")
    reuse = args.keep is not None and args.keep.exists()
    url = args.database_url or f"sqlite:///{args.keep or Path(tmp.name) / 'results.db'}"
    engine = open_engine(url)
    was = current_revision(engine)
    upgraded = upgrade(engine) != was
    store = Store(engine)
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    database = url.split(":", 1)[0].split("+")[0]
    out = {"machine": {"cpu_model": model, "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "database": database,
                       "server": server, "load": loadavg()}, "git": git_state()}
    if reuse:
        with engine.connect() as conn:
            out["data"] = {"reused": str(args.keep), "customers": conn.execute(text("SELECT count(*) FROM results_customers")).scalar(),
                           "events": conn.execute(text("SELECT count(*) FROM public_events")).scalar()}
        if upgraded:  # a file filled by an older revision: the new migrations' indexes get their statistics, as a fill's would
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            out["data"]["upgraded_from"] = was
    else:
        out["data"] = fill(engine, args.customers, args.events, args.payments, months=args.months or 1)
        if url.startswith("sqlite"):
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:  # VACUUM (for index-only scans: the visibility map) cannot run in a transaction
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    out["plans"] = query_plans(engine, url)
    for name, lines in out["plans"].items():
        print(f"-- plan: {name}", *lines, sep="\n  ", file=sys.stderr)
    if args.months is None:
        out["results"] = time_results(engine, args.repeat)
    else:
        runs = [month_run(m) for m in range(args.months)]
        out["machine"]["load_before_results"] = loadavg()
        out["plans"]["first_send"] = first_send_plans(engine, runs[-1], "bench-tone")
        for query in out["plans"]["first_send"]:
            print(f"-- plan: first send, {runs[-1]}: {query['sql'][:160]}…", *query["plan"], sep="\n  ", file=sys.stderr)
        if len(runs) > 1:  # the first run has later runs: its payments by customer id stop at the next send
            out["plans"]["first_run"] = first_send_plans(engine, runs[0], "bench-tone")
            for query in out["plans"]["first_run"]:
                if "min(results_runs_1.sent_at)" in query["sql"]:
                    print(f"-- plan: next send, {runs[0]}: {query['sql'][:160]}…", *query["plan"], sep="\n  ", file=sys.stderr)
        out["results"] = time_series(engine, args.repeat, runs, month_sent(args.months - 1) + dt.timedelta(days=40), postgres_cpu(url))
    out["machine"]["load_after_results"] = loadavg()
    if args.ingest:
        out["ingestion_events_per_second"] = ingestion(engine, store, args.ingest)
    out["machine"]["load_after"] = loadavg()
    engine.dispose()
    tmp.cleanup()
    dest = Path(__file__).resolve().parent / "out"
    dest.mkdir(exist_ok=True)
    name = f"results-{database}.json" if args.months is None else f"results-{database}-months{args.months}.json"
    (dest / name).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
