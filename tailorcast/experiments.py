"""Experiment assignment: which arm a customer is in, from the experiment id and the customer id alone.

The same customer gets the same arm in every run, every month and in any row order, because the
arm depends on nothing else: ``u = SHA-256("tailorcast/experiment/v1\\n<experiment id>\\n<customer id>")``
read as a 64-bit fraction in [0, 1). ``u < holdout`` is the holdout; the rest of [0, 1) is split between
the arms in proportion to their weights, in the order they are declared. Changing the weights or the
holdout therefore moves only the customers whose ``u`` crosses a boundary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .spec.model import Experiment

HOLDOUT = "holdout"  # the manifest's arm of customers who get no video and no page
_SCALE = float(1 << 64)


@dataclass(frozen=True)
class Assignment:
    arm: str  # an arm's name, or HOLDOUT
    variant: str | None  # the variant the customer's page shows (the holdout keeps the rules' choice, for the comparison within it)

    @property
    def holdout(self) -> bool:
        return self.arm == HOLDOUT


def unit(experiment_id: str, customer_id: str) -> float:
    """The customer's position in [0, 1) for this experiment (uniform over customer ids)."""
    digest = hashlib.sha256(f"tailorcast/experiment/v1\n{experiment_id}\n{customer_id.strip()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def shares(experiment: Experiment) -> dict[str, float]:
    """The declared share of customers per arm, the holdout included when it has one (they sum to 1)."""
    total = sum(a.weight for a in experiment.arms)
    out = {a.name: (1.0 - experiment.holdout) * a.weight / total for a in experiment.arms}
    if experiment.holdout > 0:
        out[HOLDOUT] = experiment.holdout
    return out


def assign_arm(experiment: Experiment, customer_id: str) -> str:
    """The arm of ``customer_id``: HOLDOUT for ``u < holdout``, else the arm whose weight interval holds ``u``."""
    u = unit(experiment.id, customer_id)
    if u < experiment.holdout:
        return HOLDOUT
    x = (u - experiment.holdout) / (1.0 - experiment.holdout) * sum(a.weight for a in experiment.arms)
    for arm in experiment.arms:
        if x < arm.weight:
            return arm.name
        x -= arm.weight
    return experiment.arms[-1].name  # x rounded onto the last boundary


def assign(experiment: Experiment, customer_id: str, rule_variant: str | None) -> Assignment:
    """Arm and variant: with ``within: run`` an arm's ``variant`` replaces the rules' choice; otherwise the rules' choice stays."""
    arm_name = assign_arm(experiment, customer_id)
    if arm_name == HOLDOUT or experiment.within == "rule":
        return Assignment(arm_name, rule_variant)
    arm = next(a for a in experiment.arms if a.name == arm_name)
    return Assignment(arm_name, arm.variant or rule_variant)
