"""Money and dates in the customer's locale (Babel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tailorcast import formatting


@pytest.mark.parametrize("locale,money,date", [
    ("en", "€1,234.50", "December 15, 2026"),
    ("it", "1.234,50\xa0€", "15 dicembre 2026"),
    ("fr", "1\u202f234,50\xa0€", "15 décembre 2026"),
    ("tr", "€1.234,50", "15 Aralık 2026"),
    ("id", "€1.234,50", "15 Desember 2026"),
])
def test_money_and_dates_per_locale(locale, money, date):
    assert formatting.money(Decimal("1234.5"), "EUR", locale) == money
    assert formatting.date(dt.date(2026, 12, 15), locale) == date


def test_month_labels_end_with_the_given_month():
    assert formatting.month_labels(dt.date(2026, 2, 1), 3, "en") == ["Dec", "Jan", "Feb"]
    assert formatting.month_labels(dt.date(2026, 10, 31), 12, "it")[-1] == "ott"


def test_direction():
    assert formatting.direction("ar") == "rtl" and formatting.direction("he_IL") == "rtl"
    assert formatting.direction("tr") == "ltr"


def test_unknown_locale_says_how_to_fix():
    with pytest.raises(ValueError, match="use a code like"):
        formatting.parse_locale("xx")


def test_strings_placeholders_and_plurals():
    from tailorcast.expressions import Strings

    t = Strings("en", {"hi": "Hello {name}", "days": {"one": "{count} day", "other": "{count} days"}, "fmt": "{0.__class__}"})
    assert t("hi", name="Ann") == "Hello Ann"
    assert t("days", count=1) == "1 day" and t("days", count=3) == "3 days"
    assert t("fmt") == "{0.__class__}"  # no str.format: attribute lookups are never evaluated
