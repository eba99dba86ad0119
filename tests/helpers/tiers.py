"""The test tiers: a fixture that needs a slower tier, and the mark a test using it must carry."""

from __future__ import annotations

from collections.abc import Iterable

TIER_FIXTURES = {"ray_session": "e2e", "postgres": "e2e", "chromium": "browser"}


def missing_tier_mark(fixtures: Iterable[str], marks: Iterable[str]) -> str | None:
    """Why a test cannot be in the fast tier unmarked (it uses Ray or Chromium), or None."""
    fixtures, marks = set(fixtures), set(marks)
    for fixture, mark in TIER_FIXTURES.items():
        if fixture in fixtures and mark not in marks:
            return (f"uses the {fixture!r} fixture but is not marked {mark}: add @pytest.mark.{mark} to the test "
                    f"(or pytestmark = pytest.mark.{mark} to its module) so that `make test-fast` leaves it out")
    return None
