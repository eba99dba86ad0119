"""Experiment assignment (tailorcast/experiments.py) and the template's experiment: section."""

from __future__ import annotations

import random
import textwrap

import pytest

from helpers.tiny import TINY, write_tiny
from results.stats import srm_p
from tailorcast.context import choose_variant
from tailorcast.errors import TemplateError
from tailorcast.experiments import HOLDOUT, assign, assign_arm, shares, unit
from tailorcast.spec.load import load_template
from tailorcast.spec.model import Arm, Experiment

TWO_ARMS = Experiment("nov-tone", (Arm("video", 1.0), Arm("plain", 1.0)), holdout=0.1)
IDS = [f"CUST-{i:06d}" for i in range(100_000)]
VARIANTS = textwrap.dedent("""
    variants:
      - {name: firm, when: "first_name == 'Firm'"}
      - {name: friendly}
""")


def _template(tmp_path, experiment: str):
    return load_template(write_tiny(tmp_path / "tpl", TINY + VARIANTS + textwrap.dedent(experiment)))


def test_the_arm_depends_on_the_experiment_and_the_customer_only():
    assert [assign_arm(TWO_ARMS, i) for i in IDS[:50]] == [assign_arm(TWO_ARMS, i) for i in IDS[:50]]
    assert assign_arm(TWO_ARMS, " CUST-000001 ") == assign_arm(TWO_ARMS, "CUST-000001")
    other = Experiment("dec-tone", TWO_ARMS.arms, holdout=0.1)
    assert [assign_arm(TWO_ARMS, i) for i in IDS[:200]] != [assign_arm(other, i) for i in IDS[:200]]


def test_the_assignment_is_pinned_so_it_stays_the_same_across_releases_and_months():
    # SHA-256("tailorcast/experiment/v1\nnov-tone\n<id>"), first 8 bytes as a fraction: a change of recipe would move customers
    assert unit("nov-tone", "CUST-000000") == pytest.approx(0.466462993669, abs=1e-12)
    assert [assign_arm(TWO_ARMS, i) for i in IDS[:12]] == ["video", "video", "video", "video", "plain", "plain", "video", "plain",
                                                           "video", "plain", "holdout", "plain"]


def test_row_order_does_not_change_anyones_arm():
    shuffled = IDS[:5000]
    random.Random(7).shuffle(shuffled)
    forward = {i: assign_arm(TWO_ARMS, i) for i in IDS[:5000]}
    assert {i: assign_arm(TWO_ARMS, i) for i in shuffled} == forward
    assert {i: assign_arm(TWO_ARMS, i) for i in reversed(IDS[:5000])} == forward


@pytest.mark.parametrize("experiment", [TWO_ARMS, Experiment("weights", (Arm("a", 2.0), Arm("b", 1.0), Arm("c", 1.0)), holdout=0.2),
                                        Experiment("no-holdout", (Arm("a", 1.0), Arm("b", 3.0)))])
def test_arms_are_balanced_within_sampling_error_over_100000_ids(experiment):
    counts: dict[str, int] = {}
    for i in IDS:
        arm = assign_arm(experiment, i)
        counts[arm] = counts.get(arm, 0) + 1
    expected = shares(experiment)
    assert set(counts) == set(expected)
    for arm, share in expected.items():  # each arm within 4 binomial standard deviations of its share
        sd = (len(IDS) * share * (1 - share)) ** 0.5
        assert abs(counts[arm] - len(IDS) * share) < 4 * sd, (arm, counts[arm], len(IDS) * share)
    assert srm_p(counts, expected) > 0.001


def test_shares_include_the_holdout_and_sum_to_one():
    assert shares(TWO_ARMS) == pytest.approx({"video": 0.45, "plain": 0.45, HOLDOUT: 0.1})
    assert sum(shares(Experiment("w", (Arm("a", 2.0), Arm("b", 1.0)), 0.25)).values()) == pytest.approx(1.0)


def test_within_run_an_arm_variant_replaces_the_rules_choice_and_within_rule_it_does_not():
    exp = Experiment("tone", (Arm("firm-all", 1.0, "firm"), Arm("as-rules", 1.0)), within="run")
    for cid in IDS[:300]:
        a = assign(exp, cid, "friendly")
        assert a.variant == ("firm" if a.arm == "firm-all" else "friendly")
    rule = Experiment("tone", (Arm("video", 1.0),), holdout=0.5, within="rule")
    assert {assign(rule, cid, "friendly").variant for cid in IDS[:300]} == {"friendly"}
    assert {assign(rule, cid, "friendly").holdout for cid in IDS[:300]} == {True, False}


def test_a_template_declares_an_experiment_and_choose_variant_follows_the_arm(tmp_path):
    template = _template(tmp_path, """
        experiment:
          id: nov-tone
          arms:
            - {name: firm-all, variant: firm, weight: 1}
            - {name: rules, weight: 1}
          holdout: 0.1
          planned_per_arm: 5000
    """)
    exp = template.experiment
    assert (exp.id, exp.holdout, exp.within, exp.planned_per_arm, exp.horizon_days) == ("nov-tone", 0.1, "run", 5000, 30)
    assert [(a.name, a.variant, a.weight) for a in exp.arms] == [("firm-all", "firm", 1.0), ("rules", None, 1.0)]
    seen = set()
    for cid in IDS[:200]:
        row = {"customer_id": cid, "locale": "en", "first_name": "Ann"}  # the rules say friendly
        arm = assign_arm(exp, cid)
        seen.add(arm)
        assert choose_variant(template, row) == ("firm" if arm == "firm-all" else "friendly")
    assert seen == {"firm-all", "rules", HOLDOUT}


@pytest.mark.parametrize("experiment, message", [
    ("{id: x, arms: [{name: a, variant: stern}]}", "no variant 'stern'"),
    ("{id: x, arms: [{name: holdout}, {name: b}]}", "'holdout' is the name of the holdout"),
    ("{id: x, arms: [{name: a, variant: firm}, {name: b}], within: rule}", "with within: rule the variant rules choose the variant"),
    ("{id: x, arms: [{name: a}, {name: a}]}", "arm names must be unique"),
    ("{id: x, arms: [{name: a}]}", "one arm and no holdout compares nothing"),
    ("{id: x, arms: [{name: a}], holdout: 1.5}", "1.5"),
])
def test_a_bad_experiment_is_refused_with_how_to_fix(tmp_path, experiment, message):
    with pytest.raises(TemplateError, match=message):
        _template(tmp_path, f"experiment: {experiment}\n")
