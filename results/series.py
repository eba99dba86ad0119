"""Results across runs: every imported run of a template, or of an experiment, as one report.

    select_runs(template, experiment) ──► first_sends (once) ──► counted per run ──► merged RunData ──► build_report (results.report)

**What is counted once.** An experiment that spans months is analysed as one, with the *customer* as the unit:
each customer counts once, at their first send in the experiment (the earliest imported run that carried the
experiment and them, failed renders aside), with that send's arm, variant, page events and payment (paid within
N days of that send date). Assignment depends only on the experiment id and the customer id
(tailorcast/experiments.py), so later sends put them in the same arm; counting those again would count one
customer several times and make the intervals too narrow (sends of one customer are not independent). A
customer whose weights moved them to another arm between runs keeps the arm of their first send.

**A template without an experiment** pools its *sends*: every customer of every run counts, each send with its
own send date, events and payment (a payment by customer id belongs to the latest run sent before it, as for
one run). That describes the template over time; it compares nothing, since a customer sent twice is two
sends that are not independent.

The sample-ratio check of an experiment compares the customers counted with the shares their first runs
declared (a mixture when the weights changed between runs). Days since the send count from the latest run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Engine, select

from store.results import ResultsRun
from tailorcast.errors import ResultsInputError

from .outcomes import RunData, RunInfo, _aware, counted, customer_events_on, first_sends, run_info
from .report import CSV_FIELDS, build_report, customer_rows, declared_shares

SERIES_CSV_FIELDS = ("run", *CSV_FIELDS)  # per customer (or send) across runs: the run id is no personal data
UNITS = {
    "customer": "each customer counted once, at their first send in the experiment (arm, events and payment of that send)",
    "send": "every send of every run counted (a customer sent twice counts twice); sends are not independent, so nothing is compared",
}


def scope_label(template: str | None, experiment: str | None) -> str:
    return ", ".join(p for p in (template and f"template {template}", experiment and f"experiment {experiment}") if p)


def select_runs(engine: Engine, template: str | None, experiment: str | None) -> list[RunInfo]:
    """The imported runs of ``template`` and/or ``experiment``, the earliest send first; ResultsInputError when none."""
    if not template and not experiment:
        raise ResultsInputError("results", "name a run id, --template or --experiment")
    query = select(ResultsRun.run_id).order_by(ResultsRun.sent_at, ResultsRun.run_id)
    if template:
        query = query.where(ResultsRun.template == template)
    if experiment:
        query = query.where(ResultsRun.experiment == experiment)
    with engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    if not ids:
        raise ResultsInputError(scope_label(template, experiment),
                                "no imported run has it; check the name, or import the runs first: tailorcast results import-run RUN_ID --from DEST")
    return [run_info(engine, run_id) for run_id in ids]


def _mixture(parts: list[RunData]) -> dict[str, float] | None:
    """The expected share per arm: each run's declared shares, weighted by the customers first counted in it."""
    total: dict[str, float] = defaultdict(float)
    n_all = 0
    for part in parts:
        shares = declared_shares(part.info)
        n = sum(m for (_, _, status), m in part.sizes.items() if status != "failed")
        if not shares or not n:
            continue
        n_all += n
        for arm, share in shares.items():
            total[arm] += n * share
    return {arm: v / n_all for arm, v in total.items()} if n_all else None


def series_data(engine: Engine, template: str | None, experiment: str | None) -> tuple[RunData, list[dict]]:
    """The runs' facts as one RunData (see the module's docstring for the unit), and per run what it added."""
    runs = select_runs(engine, template, experiment)
    with engine.connect() as conn, first_sends(conn, experiment, runs) as firsts:  # each customer's first send, computed once
        parts = [counted(conn, r, firsts) for r in runs]
    sizes: dict[tuple, int] = defaultdict(int)
    kinds: dict[tuple, int] = defaultdict(int)
    chapters: dict[tuple, int] = defaultdict(int)
    payers = {}
    listed = []
    for part in parts:
        for merged, counts in ((sizes, part.sizes), (kinds, part.kinds), (chapters, part.chapters)):
            for key, n in counts.items():
                merged[key] += n
        payers.update(part.payers)  # a token belongs to one run
        listed.append({"run_id": part.info.run_id, "template": part.info.template, "sent_at": part.info.sent_at.isoformat(),
                       "experiment": (part.info.experiment or {}).get("id"),
                       "counted": sum(n for (_, _, status), n in part.sizes.items() if status != "failed")})
    latest = runs[-1]
    declared = next((r.experiment for r in reversed(runs) if r.experiment), None) if experiment else None
    info = RunInfo(scope_label(template, experiment), ", ".join(sorted({r.template for r in runs})), _aware(latest.sent_at), declared)
    data = RunData(info, dict(sizes), dict(kinds), dict(chapters), payers,
                   shares=_mixture(parts) if experiment else None, compare=experiment is not None)
    return data, listed


def series_report(engine: Engine, template: str | None, experiment: str | None, now: dt.datetime) -> dict:
    """``tailorcast results --template NAME [--experiment ID]`` (or ``--experiment ID``) as JSON-ready values: the report of
    one run (results.report.build_report) plus ``scope``: what was selected, the unit, and the runs it spans."""
    data, runs = series_data(engine, template, experiment)
    report = build_report(data, now)
    unit = "customer" if experiment else "send"
    report["scope"] = {"template": template, "experiment": experiment, "unit": unit, "unit_means": UNITS[unit], "runs": runs}
    return report


def series_customers(engine: Engine, template: str | None, experiment: str | None) -> list[dict]:
    """The per-customer CSV's rows across the runs (:data:`SERIES_CSV_FIELDS`), counted as in :func:`series_report`."""
    out = []
    runs = select_runs(engine, template, experiment)
    with engine.connect() as conn, first_sends(conn, experiment, runs) as firsts:
        for info in runs:
            _, rows, payers = customer_events_on(conn, info, firsts)
            out.extend({"run": info.run_id, **row} for row in customer_rows(rows, payers))
    return out
