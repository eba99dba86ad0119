"""The fixed horizon: how many customers an experiment needs, whether it has them, and what may be said.

A fixed-horizon test is read once, at its planned size: looking early and stopping at the first
"significant" difference inflates false positives (five looks: about 14 % instead of 5 %). So before the
planned size and horizon are reached the statement shows the interval and says "not yet", never a winner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


def per_arm_size(baseline: float, uplift_points: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm for a two-sided test of p₂ = p₁ + δ at level α with the given power (normal approximation):

    n = (z₁₋α/₂ · √(2p̄(1 − p̄)) + z₁₋β · √(p₁(1 − p₁) + p₂(1 − p₂)))² / δ²,  p̄ = (p₁ + p₂)/2.
    """
    p1, p2 = baseline, baseline + uplift_points
    if not (0 < p1 < 1 and 0 < p2 < 1 and uplift_points != 0):
        raise ValueError("need 0 < baseline < 1, 0 < baseline + uplift < 1 and an uplift other than 0")
    z_a, z_b = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    mean = (p1 + p2) / 2
    n = (z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / uplift_points**2
    return math.ceil(n)


@dataclass(frozen=True)
class Horizon:
    planned_per_arm: int | None
    smallest_arm: int
    horizon_days: int
    days: int  # whole days since the send date

    @property
    def declared(self) -> bool:
        return self.planned_per_arm is not None

    @property
    def reached(self) -> bool:
        return self.declared and self.smallest_arm >= self.planned_per_arm and self.days >= self.horizon_days


def _points(x: float) -> str:
    return f"{x * 100:+.1f} points"


def _percent(x: float) -> str:
    return "unbounded" if math.isinf(x) else f"{x * 100:+.0f} %"


def statement(a: str, b: str, diff: float, low: float, high: float, uplift: tuple[float, float, float] | None,
              horizon: Horizon, srm_p: float | None, srm_alert: float) -> str:
    """What may be said about ``a`` against ``b`` on the paid rate, in one paragraph, uncertainty and method included."""
    numbers = f"{a} minus {b}: {_points(diff)} (95 % interval {_points(low)} to {_points(high)}, Newcombe's hybrid score method)"
    if uplift is not None:
        numbers += f", a relative uplift of {_percent(uplift[0])} ({_percent(uplift[1])} to {_percent(uplift[2])})"
    if srm_p is not None and srm_p < srm_alert:
        return (f"Sample ratio mismatch (p = {srm_p:.2g} < {srm_alert:g}): the arms are not the sizes their weights promise, so the "
                f"assignment or the delivery is broken. Find the cause before reading any result. {numbers}.")
    if not horizon.declared:
        return (f"No planned size was declared (experiment.planned_per_arm), so this is a description, not a test verdict. {numbers}.")
    if not horizon.reached:
        return (f"Not at its planned size yet: {horizon.smallest_arm:,} of {horizon.planned_per_arm:,} customers in the smallest arm, "
                f"day {horizon.days} of {horizon.horizon_days}. So far {numbers}. A fixed-horizon experiment is read once, at the end: "
                "no verdict before then.")
    if low > 0:
        verdict = f"{a} gets more bills paid than {b}"
    elif high < 0:
        verdict = f"{a} gets fewer bills paid than {b}"
    else:
        verdict = f"no difference between {a} and {b} was shown (the interval includes 0)"
    return f"At its planned size ({horizon.planned_per_arm:,} per arm) and {horizon.horizon_days}-day horizon, {verdict}: {numbers}."
