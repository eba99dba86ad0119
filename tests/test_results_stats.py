"""results/stats.py against worked examples (Newcombe 1998) and, in the tests only, statsmodels and scipy."""

from __future__ import annotations

import math

import pytest

from results.stats import Z95, chi2_sf, newcombe_difference, relative_uplift, srm_p, wilson


def test_wilson_by_hand():
    # 81/263: p = 0.30798, z² = 3.84146; centre = (81 + 1.92073)/(263 + 3.84146) = 0.31075;
    # half = 1.95996·√263/266.84146·√(0.30798·0.69202 + 3.84146/1052) = 0.05546 → [0.25529, 0.36621]
    ci = wilson(81, 263)
    assert (round(ci.estimate, 5), round(ci.low, 5), round(ci.high, 5)) == (0.30798, 0.25529, 0.36621)


def test_wilson_edges():
    assert (wilson(0, 0).estimate, wilson(0, 0).low, wilson(0, 0).high) == (0.0, 0.0, 1.0)
    none = wilson(0, 10)
    assert none.low == 0.0 and round(none.high, 4) == 0.2775  # Newcombe 1998, table I: 0/10 → 0 to 0.2775
    every = wilson(10, 10)
    assert every.high == 1.0 and round(every.low, 4) == 0.7225
    with pytest.raises(ValueError, match="need 0 ≤ x ≤ n"):
        wilson(11, 10)


@pytest.mark.parametrize("x1, n1, x2, n2, low, high", [
    (56, 70, 48, 80, 0.0524, 0.3339),    # Newcombe 1998, table II, example (a), method 10
    (9, 10, 3, 10, 0.1705, 0.8090),      # example (b)
    (6, 7, 2, 7, 0.0582, 0.8062),        # example (c)
    (5, 56, 0, 29, -0.0381, 0.1926),     # example (d)
    (0, 10, 0, 20, -0.1611, 0.2775),     # example (e)
])
def test_newcombe_matches_the_published_worked_examples(x1, n1, x2, n2, low, high):
    ci = newcombe_difference(x1, n1, x2, n2)
    assert ci.estimate == pytest.approx(x1 / n1 - x2 / n2)
    assert (round(ci.low, 4), round(ci.high, 4)) == (low, high)


@pytest.mark.parametrize("x1, n1, x2, n2", [(56, 70, 48, 80), (1200, 10000, 1100, 10000), (3, 400, 9, 380), (0, 50, 4, 60), (77, 77, 70, 80)])
def test_newcombe_agrees_with_statsmodels(x1, n1, x2, n2):
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=0.05)
    ci = newcombe_difference(x1, n1, x2, n2)
    assert (ci.low, ci.high) == (pytest.approx(float(low), abs=1e-12), pytest.approx(float(high), abs=1e-12))


def test_relative_uplift_by_hand():
    # 56/70 vs 48/80: ratio 0.8/0.6 = 1.3333; Wilson (0.6920, 0.8762) and (0.4906, 0.7003);
    # MOVER-R: low = [0.48 − √(0.48² − 0.6920·0.7003·(1.6 − 0.6920)(1.2 − 0.7003))]/[0.7003(1.2 − 0.7003)] = 1.0783
    up = relative_uplift(56, 70, 48, 80)
    assert round(up.estimate, 4) == 0.3333
    assert (round(up.low, 4), round(up.high, 4)) == (0.0783, 0.6629)
    assert up.low < up.estimate < up.high
    assert relative_uplift(5, 100, 0, 100) is None  # no uplift over nothing
    assert relative_uplift(5, 100, 1, 100).high < math.inf


@pytest.mark.parametrize("x, df, p", [
    (3.841458820694124, 1, 0.05),   # the 95 % point of χ²₁
    (5.991464547107979, 2, 0.05),   # χ²₂: exactly e^(−x/2)
    (6.6348966010212145, 1, 0.01),
    (16.26623619623813, 3, 0.001),
    (0.0, 4, 1.0),
])
def test_chi2_sf_at_known_points(x, df, p):
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("x, df", [(0.3, 1), (2.5, 2), (7.7, 3), (30.0, 5), (120.0, 1), (1e-4, 6), (55.5, 40)])
def test_chi2_sf_agrees_with_scipy(x, df):
    from scipy.stats import chi2

    assert chi2_sf(x, df) == pytest.approx(float(chi2.sf(x, df)), rel=1e-9, abs=1e-300)


def test_srm_p_by_hand():
    # 5,100 vs 4,900 declared 50/50: χ² = (100² + 100²)/5000 = 4.0, df 1 → p = 0.0455
    assert round(srm_p({"a": 5100, "b": 4900}, {"a": 0.5, "b": 0.5}), 4) == 0.0455
    # 45/45/10 declared, observed 4,400 / 4,600 / 1,000 of 10,000: χ² = 40²/… → (100²/4500)·2 = 4.444, df 2 → e^(−2.222) = 0.1084
    assert round(srm_p({"a": 4400, "b": 4600, "holdout": 1000}, {"a": 0.45, "b": 0.45, "holdout": 0.1}), 4) == 0.1084


def test_srm_p_flags_a_broken_split_and_agrees_with_scipy():
    from scipy.stats import chisquare

    observed = {"a": 5300, "b": 4700}
    p = srm_p(observed, {"a": 0.5, "b": 0.5})
    assert p < 0.001
    assert p == pytest.approx(float(chisquare([5300, 4700], [5000, 5000]).pvalue), rel=1e-9)
    assert srm_p({"a": 10}, {"a": 1.0}) is None and srm_p({}, {"a": 0.5, "b": 0.5}) is None


def test_z95():
    assert Z95 == pytest.approx(1.959963984540054)
