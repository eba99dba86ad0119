"""Interval estimates for paid rates and their comparison, and the sample-ratio-mismatch check.

Small pure functions, each with its formula; ``tests/test_results_stats.py`` checks them against worked
examples (Newcombe 1998, table II) and, in the tests only, statsmodels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(x: int, n: int, z: float = Z95) -> Interval:
    """Wilson's score interval for a proportion x/n.

    centre = (x + z²/2) / (n + z²),  half = z·√n / (n + z²) · √(p̂(1 − p̂) + z²/(4n)),  p̂ = x/n.
    With n = 0 nothing is known: the estimate is 0 and the interval is [0, 1].
    """
    if n == 0:
        return Interval(0.0, 0.0, 1.0)
    if not 0 <= x <= n:
        raise ValueError(f"x = {x} successes out of n = {n}: need 0 ≤ x ≤ n")
    p = x / n
    z2 = z * z
    centre = (x + z2 / 2) / (n + z2)
    half = z * math.sqrt(n) / (n + z2) * math.sqrt(p * (1 - p) + z2 / (4 * n))
    return Interval(p, 0.0 if x == 0 else max(0.0, centre - half), 1.0 if x == n else min(1.0, centre + half))


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval:
    """Newcombe's hybrid score interval (his method 10) for p₁ − p₂, from the two Wilson intervals (l, u):

    δ = p₁ − p₂,  low = δ − √((p₁ − l₁)² + (u₂ − p₂)²),  high = δ + √((u₁ − p₁)² + (p₂ − l₂)²).
    """
    a, b = wilson(x1, n1, z), wilson(x2, n2, z)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high)


def relative_uplift(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """p₁/p₂ − 1 with the MOVER-R interval for a ratio (Donner & Zou 2012) from the same Wilson intervals:

    low  = [p₁p₂ − √((p₁p₂)² − l₁u₂(2p₁ − l₁)(2p₂ − u₂))] / [u₂(2p₂ − u₂)] − 1
    high = [p₁p₂ + √((p₁p₂)² − u₁l₂(2p₁ − u₁)(2p₂ − l₂))] / [l₂(2p₂ − l₂)] − 1   (∞ when l₂ = 0)

    None when p₂ = 0: there is no uplift over nothing.
    """
    a, b = wilson(x1, n1, z), wilson(x2, n2, z)
    p1, p2 = a.estimate, b.estimate
    if p2 == 0:
        return None
    pp = p1 * p2
    low = (pp - math.sqrt(max(0.0, pp * pp - a.low * b.high * (2 * p1 - a.low) * (2 * p2 - b.high)))) / (b.high * (2 * p2 - b.high))
    denominator = b.low * (2 * p2 - b.low)
    high = math.inf if denominator <= 0 else (pp + math.sqrt(max(0.0, pp * pp - a.high * b.low * (2 * p1 - a.high) * (2 * p2 - b.low)))) / denominator
    return Interval(p1 / p2 - 1, low - 1, high - 1)


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df ≥ x) = Q(df/2, x/2), the regularized upper incomplete gamma function.

    Q by its series P(a, y) = e^{−y} y^a Σ yⁿ / Γ(a + n + 1) for y < a + 1, else by Lentz's continued fraction.
    """
    if df < 1:
        raise ValueError("a chi-square needs at least one degree of freedom")
    if x <= 0:
        return 1.0
    a, y = df / 2, x / 2
    log_front = -y + a * math.log(y) - math.lgamma(a)
    if y < a + 1:
        term = total = 1.0 / a
        k = a
        while abs(term) > abs(total) * 1e-16:
            k += 1
            term *= y / k
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = y + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * h)


def srm_p(observed: dict[str, int], shares: dict[str, float]) -> float | None:
    """Sample-ratio mismatch: the p-value of Pearson's χ² = Σ (Oᵢ − Eᵢ)² / Eᵢ, Eᵢ = N·shareᵢ, with k − 1 degrees of freedom.

    A small p (below :data:`SRM_ALERT`) says the arms are not the sizes the declared weights promise: the
    assignment or the delivery is broken and no comparison should be trusted. None with fewer than two groups
    or no customers.
    """
    groups = [g for g in shares if shares[g] > 0]
    total = sum(observed.get(g, 0) for g in groups)
    if len(groups) < 2 or total == 0:
        return None
    weight = sum(shares[g] for g in groups)
    chi2 = sum((observed.get(g, 0) - total * shares[g] / weight) ** 2 / (total * shares[g] / weight) for g in groups)
    return chi2_sf(chi2, len(groups) - 1)


SRM_ALERT = 0.001  # GrowthBook and Statsig warn below this
