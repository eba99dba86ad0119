"""The player's data, without a browser: the call-to-action box and time, mirrored right to left, the labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.samples import REMINDER_DIR, TEMPLATE_DIR

REMINDER_ID = "R-0005"  # Arabic (right to left), 189.40: the instalment offer is on


def _player(folder: Path, customer_id: str) -> dict:
    from microsite.player import player_data
    from renderer.video import resolve_all
    from tailorcast.context import customer_context
    from tailorcast.customers import read_customers
    from tailorcast.spec.load import load_template

    template = load_template(folder)
    customer = next(c for c in read_customers(template, folder / "sample-customers.csv") if getattr(c, "customer_id", "") == customer_id)
    ctx = customer_context(template, customer)
    scenes, t = [], 0.0
    for rs in resolve_all(template, ctx):
        scenes.append((rs.id, t, t + rs.duration, rs.id))
        t += rs.duration
    return player_data(template, ctx, scenes, api="../../api/", token="q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u")


def test_player_data_puts_the_call_to_action_on_the_pay_scenes_button():
    data = _player(TEMPLATE_DIR, "CUST-00005")
    assert data["pay"] == {"scene": "pay", "start": 23.3, "end": 28.0, "label": "Pay now"}  # 22 s + 0.8 s start + 0.5 s pop
    boxes = {r["name"]: r["cta"] for r in data["renditions"]}
    assert boxes == {"landscape": [0.06, 0.56, 0.34, 0.13], "portrait": [0.08, 0.3, 0.6, 0.075]}
    assert data["labels"]["captions"] == "Captions" and data["api"] == "../../api/" and data["live"] is None


def test_player_data_mirrors_the_call_to_action_right_to_left_and_speaks_the_locale():
    data = _player(REMINDER_DIR, REMINDER_ID)
    assert [s["id"] for s in data["scenes"]] == ["intro", "overdue", "instalments", "pay", "outro"]
    left, _, width, _ = next(r for r in data["renditions"] if r["name"] == "landscape")["cta"]
    assert left == pytest.approx(1 - 0.07 - 0.44)  # the button box, mirrored
    assert data["pay"] == {"scene": "pay", "start": 14.4, "end": 18.5, "label": "ادفع \u200f189.40\xa0€"}  # 13.5 + 0.4 + 0.5
    assert data["labels"]["replay"] == "إعادة التشغيل"
