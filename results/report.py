"""A run's results: the funnel per arm (or variant), time to pay, and the comparisons, as plain JSON values.

    outcomes (results.outcomes) ──► groups: the arm of each customer (experiment), else the variant
                                ──► per group: funnel, drop-off by chapter, paid within 7/14/30 days,
                                    median days to pay, amount collected, paid-by-day curve
                                ──► comparisons on "paid within the horizon": each arm against the holdout,
                                    each arm against the first; within each variant when ``within: rule``

Customers whose render failed are counted (``failed``) but left out of every rate: they got no page.
The sample-ratio check compares the analysed group sizes with the declared shares, so a failure that
hits one arm more than another shows up there.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections import defaultdict
from statistics import median

from tailorcast.experiments import HOLDOUT

from .outcomes import STARTED, Payer, RunData, RunInfo
from .planning import Horizon, statement
from .stats import SRM_ALERT, newcombe_difference, relative_uplift, srm_p, wilson

QUARTILES = (("watched_25", "play_25"), ("watched_50", "play_50"), ("watched_75", "play_75"), ("completed", "play_100"))
PAID_WITHIN = (7, 14, 30)
DEFAULT_HORIZON = 30
CSV_FIELDS = ("token", "arm", "events", "paid")  # per customer, for operators: no name, no e-mail, no customer id


def _name(arm: str | None, variant: str | None, by: str) -> str:
    return (arm if by == "arm" else variant) or "all"


def _order(names: set[str], info: RunInfo) -> list[str]:
    declared = [a["name"] for a in (info.experiment or {}).get("arms", [])] + [HOLDOUT]
    return [n for n in declared if n in names] + sorted(n for n in names if n not in declared)


def funnel(name: str, sent: int, kinds: dict[str, int], chapters: dict[str, int], payers: list[Payer], horizon: int) -> dict:
    """One group's numbers: ``sent`` analysed customers, ``kinds`` customers per event kind, ``payers`` those who paid."""
    days = sorted(p.days for p in payers)
    paid = len(days)
    ci = wilson(paid, sent)
    amounts: dict[str, int] = {}
    for p in payers:
        for cur, cents in p.amount_cents.items():
            amounts[cur] = amounts.get(cur, 0) + cents
    return {
        "name": name, "sent": sent, "opened": kinds.get("view", 0), "started": kinds.get(STARTED, 0),
        **{label: kinds.get(kind, 0) for label, kind in QUARTILES},
        "chapter": kinds.get("chapter", 0), "cta": kinds.get("cta_click", 0), "pay_started": kinds.get("pay_started", 0),
        "paid": paid, "paid_rate": paid / sent if sent else None, "paid_rate_ci": [ci.low, ci.high],
        "paid_within": {str(n): bisect_right(days, n) for n in PAID_WITHIN},
        "median_days_to_pay": median(days) if days else None,
        "amount_collected_cents": dict(sorted(amounts.items())),
        "paid_by_day": [bisect_right(days, n) for n in range(horizon + 1)],  # [n]: paid within n days, as paid_within
        "dropoff": [{"scene": s, "reached": n} for s, n in sorted(chapters.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def _pairs(names: list[str]) -> list[tuple[str, str]]:
    arms = [n for n in names if n != HOLDOUT]
    pairs = [(a, HOLDOUT) for a in arms] if HOLDOUT in names else []
    return pairs + [(a, arms[0]) for a in arms[1:]]


def declared_shares(info: RunInfo) -> dict[str, float] | None:
    exp = info.experiment
    if not exp:
        return None
    total = sum(float(a.get("weight", 1)) for a in exp["arms"])
    holdout = float(exp.get("holdout") or 0)
    out = {a["name"]: (1 - holdout) * float(a.get("weight", 1)) / total for a in exp["arms"]}
    if holdout > 0:
        out[HOLDOUT] = holdout
    return out


def build_report(data: RunData, now: dt.datetime) -> dict:
    """The whole report as JSON-ready values (``tailorcast results --format json``)."""
    info = data.info
    exp = info.experiment or {}
    horizon = int(exp.get("horizon_days") or DEFAULT_HORIZON)
    by = "arm" if info.experiment or any(arm for arm, _, _ in data.sizes) else "variant"
    sent: dict[tuple, int] = defaultdict(int)  # (group, variant) → analysed customers
    failed: dict[str, int] = defaultdict(int)
    for (arm, variant, status), n in data.sizes.items():
        if status == "failed":
            failed[_name(arm, variant, by)] += n
        else:
            sent[(_name(arm, variant, by), variant or "")] += n
    kinds: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for (arm, variant, kind), n in data.kinds.items():
        kinds[_name(arm, variant, by)][kind] += n  # STARTED: customers with any of STARTED_KINDS (results.outcomes)
    chapters: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for (arm, variant, scene), n in data.chapters.items():
        chapters[_name(arm, variant, by)][scene] += n
    payers: dict[tuple, list[Payer]] = defaultdict(list)
    for p in data.payers.values():
        if p.status != "failed":
            payers[(_name(p.arm, p.variant, by), p.variant or "")].append(p)
    names = _order({g for g, _ in sent} | set(failed), info)
    arms = []
    for name in names:
        group_payers = [p for (g, _), ps in payers.items() if g == name for p in ps]
        row = funnel(name, sum(n for (g, _), n in sent.items() if g == name), kinds[name], chapters[name], group_payers, horizon)
        row["failed"] = failed.get(name, 0)
        arms.append(row)

    shares = data.shares if data.shares is not None else declared_shares(info)
    observed = {n: sum(m for (g, _), m in sent.items() if g == n) for n in (shares or {})}
    p_srm = srm_p(observed, shares) if shares else None
    days = max(0, int((now - info.sent_at).total_seconds() // 86400))
    comparisons = []
    strata = sorted({v for _, v in sent}) if exp.get("within") == "rule" else [None]

    def count(group: str, variant: str | None) -> tuple[int, int]:
        """(paid within the horizon, analysed customers) of a group, within one variant or all."""
        keys = [k for k in sent if k[0] == group and (variant is None or k[1] == variant)]
        return sum(1 for k in keys for p in payers.get(k, []) if p.days <= horizon), sum(sent[k] for k in keys)

    for variant in strata:
        for a, b in _pairs(names) if by == "arm" and data.compare else []:
            (x_a, n_a), (x_b, n_b) = count(a, variant), count(b, variant)
            diff = newcombe_difference(x_a, n_a, x_b, n_b)
            up = relative_uplift(x_a, n_a, x_b, n_b)
            h = Horizon(exp.get("planned_per_arm"), min(count(n, variant)[1] for n in names), horizon, days)
            label_a, label_b = (a, b) if variant is None else (f"{a} ({variant or 'no variant'})", f"{b} ({variant or 'no variant'})")
            comparisons.append({
                "a": a, "b": b, "variant": variant, "metric": f"paid within {horizon} days",
                "paid_a": x_a, "n_a": n_a, "paid_b": x_b, "n_b": n_b,
                "diff": diff.estimate, "ci_low": diff.low, "ci_high": diff.high, "method": "newcombe",
                "uplift": None if up is None else up.estimate, "uplift_low": None if up is None else up.low,
                "uplift_high": None if up is None or math.isinf(up.high) else up.high, "uplift_method": "mover-r",
                "srm_p": p_srm, "srm_warning": p_srm is not None and p_srm < SRM_ALERT,
                "planned_size_reached": h.reached,
                "statement": statement(label_a, label_b, diff.estimate, diff.low, diff.high,
                                       None if up is None else (up.estimate, up.low, up.high), h, p_srm, SRM_ALERT),
            })
    return {
        "run": info.run_id, "template": info.template, "sent_at": info.sent_at.isoformat(), "grouped_by": by,
        "experiment": info.experiment, "horizon_days": horizon, "days_since_send": days,
        "arms": arms, "comparisons": comparisons,
        "srm": None if shares is None else {"p": p_srm, "warning": p_srm is not None and p_srm < SRM_ALERT, "observed": observed,
                                            "expected_shares": shares, "method": "chi-square against the declared weights"},
    }


def customer_rows(rows: list[tuple[str, str | None, str | None, int]], payers: dict[str, Payer]) -> list[dict]:
    """The per-customer CSV's rows (:data:`CSV_FIELDS` only) from :func:`results.outcomes.customer_events`."""
    return [{"token": token, "arm": arm or variant or "", "events": events, "paid": int(token in payers)} for token, arm, variant, events in rows]
