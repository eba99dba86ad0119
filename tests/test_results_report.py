"""results/report.py on hand-made run facts: grouping by variant without an experiment, comparisons within each
variant for ``within: rule``, failed renders left out of the rates, a sample-ratio mismatch said first; and the
manifest's neutralized cells read back as written."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from results.outcomes import STARTED, Payer, RunData, RunInfo
from results.report import build_report, customer_rows
from results.stats import newcombe_difference

UTC = dt.timezone.utc
SENT = dt.datetime(2026, 11, 2, tzinfo=UTC)
NOW = SENT + dt.timedelta(days=40)


def _payers(arm, variant, days: list[float], status: str = "ok") -> dict[str, Payer]:
    return {f"{arm}-{variant}-{i}": Payer(arm, variant, status, d, {"EUR": 1000}) for i, d in enumerate(days)}


def test_without_an_experiment_the_funnel_is_per_variant_and_nothing_is_compared():
    info = RunInfo("r-1", "payment-reminder", SENT, None)
    data = RunData(info, {(None, "firm", "ok"): 10, (None, "friendly", "ok"): 20, (None, "friendly", "failed"): 2},
                   {(None, "firm", "view"): 6, (None, "firm", STARTED): 4, (None, "friendly", "view"): 5},
                   {(None, "firm", "pay"): 2}, {**_payers(None, "firm", [1, 3]), **_payers(None, "friendly", [10], status="failed")})
    report = build_report(data, NOW)
    assert report["grouped_by"] == "variant" and report["comparisons"] == [] and report["srm"] is None
    arms = {a["name"]: a for a in report["arms"]}
    assert (arms["firm"]["sent"], arms["firm"]["opened"], arms["firm"]["started"], arms["firm"]["paid"]) == (10, 6, 4, 2)
    assert (arms["friendly"]["sent"], arms["friendly"]["failed"], arms["friendly"]["paid"]) == (20, 2, 0)  # a failed customer's payment is not counted
    assert arms["firm"]["dropoff"] == [{"scene": "pay", "reached": 2}] and arms["firm"]["median_days_to_pay"] == 2.0


def test_within_rule_compares_the_arms_inside_each_variant():
    experiment = {"id": "x", "arms": [{"name": "video", "weight": 1}], "holdout": 0.5, "within": "rule", "planned_per_arm": None, "horizon_days": 14}
    info = RunInfo("r-2", "payment-reminder", SENT, experiment)
    sizes = {("video", "firm", "ok"): 40, ("holdout", "firm", "holdout"): 40, ("video", "friendly", "ok"): 60, ("holdout", "friendly", "holdout"): 60}
    payers = {**_payers("video", "firm", [1] * 20 + [20] * 5), **_payers("holdout", "firm", [2] * 10),
              **_payers("video", "friendly", [3] * 30), **_payers("holdout", "friendly", [4] * 30)}
    report = build_report(RunData(info, sizes, {}, {}, payers), NOW)
    assert [(c["a"], c["b"], c["variant"]) for c in report["comparisons"]] == [("video", "holdout", "firm"), ("video", "holdout", "friendly")]
    firm, friendly = report["comparisons"]
    assert (firm["paid_a"], firm["n_a"], firm["paid_b"], firm["n_b"], firm["metric"]) == (20, 40, 10, 40, "paid within 14 days")  # day 20 is past the horizon
    ci = newcombe_difference(20, 40, 10, 40)
    assert (firm["diff"], firm["ci_low"], firm["ci_high"]) == (pytest.approx(ci.estimate), pytest.approx(ci.low), pytest.approx(ci.high))
    assert (friendly["paid_a"], friendly["paid_b"]) == (30, 30) and friendly["diff"] == 0
    assert "video (firm) minus holdout (firm)" in firm["statement"] and firm["statement"].startswith("No planned size was declared")
    assert report["srm"]["observed"] == {"video": 100, "holdout": 100} and not report["srm"]["warning"]
    json.dumps(report)  # plain JSON values only


def test_a_sample_ratio_mismatch_is_said_before_anything_else():
    experiment = {"id": "x", "arms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}], "holdout": 0, "within": "run",
                  "planned_per_arm": 100, "horizon_days": 30}
    info = RunInfo("r-3", "t", SENT, experiment)
    report = build_report(RunData(info, {("a", None, "ok"): 5300, ("b", None, "ok"): 4700}, {}, {}, {}), NOW)
    (c,) = report["comparisons"]
    assert c["srm_warning"] and c["srm_p"] < 0.001 and c["statement"].startswith("Sample ratio mismatch")
    assert report["srm"]["warning"]


def test_the_per_customer_rows_have_only_token_arm_events_and_paid():
    payers = _payers("video", None, [1])
    token = next(iter(payers))
    rows = customer_rows([(token, "video", None, 4), ("t-2", None, "firm", 0)], payers)
    assert rows == [{"token": token, "arm": "video", "events": 4, "paid": 1}, {"token": "t-2", "arm": "firm", "events": 0, "paid": 0}]


def test_a_manifest_cell_neutralized_for_spreadsheets_is_read_back_as_written(tmp_path):
    from tailorcast.csvfile import csv_bytes, neutralize, read_rows, restore

    texts = ("-q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u", "=SUM(A1)", "+39", "@x", "C-0001", "plain")
    for text in texts:
        assert restore(str(neutralize(text))) == text
    written = csv_bytes(["token"], [{"token": t} for t in texts]).decode()
    assert "'-q3Zr0" in written and [r["token"] for r in read_rows(written)] == list(texts)
