"""Results in the studio: per imported run, and per template or experiment across its runs (results.series), the funnel, the drop-off by scene and the paid-by-day curve as server-rendered
SVG, the comparisons in words and numbers, and the per-customer CSV. Every signed-in user may read them (viewers too).

The numbers come from the results room (results.outcomes, results.report), the same as `tailorcast results`; each
page has a JSON twin (``Accept: application/json``). The charts are computed here as plain geometry and drawn by the
template, so nothing from the store reaches the page unescaped.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for

from results.outcomes import customer_events, run_data
from results.report import CSV_FIELDS, build_report, customer_rows
from results.runs import imported_runs
from results.series import SERIES_CSV_FIELDS, series_customers, series_report
from tailorcast.csvfile import csv_bytes
from tailorcast.errors import ResultsInputError

from .state import studio_state

bp = Blueprint("results", __name__)
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # used with fullmatch (also for template names and experiment ids)
COLOURS = ("#0B3D78", "#F4B41A", "#2A9D8F", "#E76F51", "#6D597A", "#8AB17D")
HOLDOUT_COLOUR = "#8C8C8C"
FUNNEL = (("sent", "sent"), ("opened", "opened"), ("started", "started"), ("watched_50", "watched 50 %"), ("completed", "completed"),
          ("cta", "CTA clicked"), ("pay_started", "pay started"), ("paid", "paid"))


def _colour(name: str, i: int) -> str:
    return HOLDOUT_COLOUR if name == "holdout" else COLOURS[i % len(COLOURS)]


def bar_chart(steps: list[tuple[str, list[int]]], arms: list[dict], width: int = 640, bar: int = 10) -> dict:
    """Grouped horizontal bars: one row per step, one bar per arm, each a share of the arm's ``sent``."""
    label_w, gap = 120, 6
    rows, y = [], 0
    for label, counts in steps:
        bars = []
        for i, (a, n) in enumerate(zip(arms, counts, strict=True)):
            share = n / a["sent"] if a["sent"] else 0.0
            bars.append({"y": y + i * bar, "w": round(share * (width - label_w - 60), 1), "colour": _colour(a["name"], i),
                         "text": f"{n:,} ({share:.0%})", "arm": a["name"]})
        rows.append({"label": label, "y": y, "bars": bars})
        y += bar * len(arms) + gap
    return {"width": width, "height": y, "label_w": label_w, "bar": bar, "rows": rows}


def funnel_chart(arms: list[dict]) -> dict:
    return bar_chart([(label, [a[key] for a in arms]) for key, label in FUNNEL], arms)


def dropoff_chart(arms: list[dict]) -> dict | None:
    """Customers who reached each scene (played into it or jumped to it), per arm; None when nobody did."""
    scenes = sorted({d["scene"] for a in arms for d in a["dropoff"]})
    reached = [{d["scene"]: d["reached"] for d in a["dropoff"]} for a in arms]
    return bar_chart([(s, [r.get(s, 0) for r in reached]) for s in scenes], arms) if scenes else None


def curve_chart(arms: list[dict], width: int = 640, height: int = 220) -> dict:
    """The cumulative paid share by day since the send date, one polyline per arm."""
    pad_l, pad_b, pad_t = 40, 24, 8
    days = max((len(a["paid_by_day"]) for a in arms), default=1) - 1 or 1
    top = max((a["paid_by_day"][-1] / a["sent"] for a in arms if a["sent"] and a["paid_by_day"]), default=0.0) or 1.0
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    lines = []
    for i, a in enumerate(arms):
        if not a["sent"]:
            continue
        points = " ".join(f"{pad_l + d / days * plot_w:.1f},{pad_t + plot_h - n / a['sent'] / top * plot_h:.1f}" for d, n in enumerate(a["paid_by_day"]))
        lines.append({"points": points, "colour": _colour(a["name"], i), "arm": a["name"],
                      "last": f"{a['paid_by_day'][-1] / a['sent']:.1%}" if a["paid_by_day"] else "0 %"})
    ticks = [{"x": round(pad_l + d / days * plot_w, 1), "day": d} for d in range(0, days + 1, max(1, days // 6))]
    return {"width": width, "height": height, "pad_l": pad_l, "pad_t": pad_t, "plot_w": plot_w, "plot_h": plot_h, "base": pad_t + plot_h,
            "top": f"{top:.0%}", "lines": lines, "ticks": ticks}


def _check(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        abort(404)
    return run_id


def _report(run_id: str) -> dict:
    st = studio_state()
    try:
        data = run_data(st.store.engine, run_id)
    except ResultsInputError:
        abort(404, description=f"run {run_id} is not in the results store; import it: tailorcast results import-run {run_id} --from DEST")
    return build_report(data, st.now())


@bp.get("/results")
def index():
    runs = imported_runs(studio_state().store.engine)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(runs=[{"run_id": r.run_id, "template": r.template, "experiment": r.experiment, "sent_at": r.sent_at.isoformat(),
                              "customers": r.customers} for r in runs])
    templates = sorted({r.template for r in runs})
    experiments = sorted({(r.experiment, r.template) for r in runs if r.experiment})
    return render_template("results_index.html", runs=runs, templates=templates, experiments=experiments)


def _page(report: dict, csv_url: str, heading: str):
    if request.accept_mimetypes.best == "application/json":
        return jsonify(report)
    arms = report["arms"]
    return render_template("results.html", report=report, arms=arms, funnel=funnel_chart(arms), curve=curve_chart(arms),
                           dropoff=dropoff_chart(arms), colours={a["name"]: _colour(a["name"], i) for i, a in enumerate(arms)},
                           sent_on=dt.datetime.fromisoformat(report["sent_at"]).strftime("%Y-%m-%d"), csv_url=csv_url, heading=heading)


@bp.get("/results/<run_id>")
def show(run_id: str):
    report = _report(_check(run_id))
    return _page(report, url_for("results.customers_csv", run_id=run_id), f"Results of {run_id}")


def _series(template: str | None, experiment: str | None) -> dict:
    for name in (template, experiment):
        if name is not None:
            _check(name)
    st = studio_state()
    try:
        return series_report(st.store.engine, template, experiment, st.now())
    except ResultsInputError as exc:
        abort(404, description=str(exc))


@bp.get("/results/template/<name>")
def template_results(name: str):
    """Every imported run of a template; ``?experiment=ID``: only that experiment's runs, each customer counted once."""
    experiment = request.args.get("experiment") or None
    report = _series(name, experiment)
    return _page(report, url_for("results.template_csv", name=name, experiment=experiment), f"Results of template {name}"
                 + (f", experiment {experiment}" if experiment else ""))


@bp.get("/results/experiment/<experiment>")
def experiment_results(experiment: str):
    """Every imported run that carried the experiment, each customer counted once, at their first send in it."""
    return _page(_series(None, experiment), url_for("results.experiment_csv", experiment=experiment), f"Results of experiment {experiment}")


def _series_csv(template: str | None, experiment: str | None, filename: str) -> Response:
    st = studio_state()
    try:
        rows = series_customers(st.store.engine, template, experiment)
    except ResultsInputError as exc:
        abort(404, description=str(exc))
    return Response(csv_bytes(SERIES_CSV_FIELDS, rows), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/results/template/<name>/customers.csv")
def template_csv(name: str):
    experiment = request.args.get("experiment") or None
    for value in (name, experiment):
        if value is not None:
            _check(value)
    return _series_csv(name, experiment, f"{name}{'-' + experiment if experiment else ''}-customers.csv")


@bp.get("/results/experiment/<experiment>/customers.csv")
def experiment_csv(experiment: str):
    return _series_csv(None, _check(experiment), f"{experiment}-customers.csv")


@bp.get("/results/<run_id>/customers.csv")
def customers_csv(run_id: str):
    _check(run_id)
    st = studio_state()
    try:
        _, rows, payers = customer_events(st.store.engine, run_id)
    except ResultsInputError:
        abort(404, description=f"run {run_id} is not in the results store")
    return Response(csv_bytes(CSV_FIELDS, customer_rows(rows, payers)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{run_id}-customers.csv"'})
