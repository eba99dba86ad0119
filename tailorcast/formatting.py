"""Money, dates and numbers in the customer's locale: the one place that formats them.

Money is always ``Decimal``; Babel does the locale rules (symbol position,
separators, digits).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date
from babel.numbers import format_currency, format_decimal, format_percent

RTL_LANGUAGES = {"ar", "he", "fa", "ur"}


@lru_cache(maxsize=256)
def parse_locale(tag: str) -> Locale:
    """``it``, ``it_IT`` or ``it-IT`` → a Babel Locale; ValueError when unknown."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {tag!r}; use a code like 'it', 'fr_FR' or 'tr'") from exc


def language(tag: str) -> str:
    return parse_locale(tag).language


def direction(tag: str) -> str:
    return "rtl" if language(tag) in RTL_LANGUAGES else "ltr"


def money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(Decimal(amount), currency, locale=parse_locale(locale))


def date(value: dt.date, locale: str, form: str = "long") -> str:
    return _format_date(value, format=form, locale=parse_locale(locale))


def number(value: float | int | Decimal, locale: str, digits: int | None = None) -> str:
    if digits is not None:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=parse_locale(locale))
    return format_decimal(value, locale=parse_locale(locale))


def percent(value: float | Decimal, locale: str) -> str:
    return format_percent(value, locale=parse_locale(locale))


def month_labels(last_month: dt.date, count: int, locale: str, width: str = "abbreviated") -> list[str]:
    """Short month names for ``count`` months ending with ``last_month``, oldest first."""
    names = parse_locale(locale).months["stand-alone"][width]
    out = []
    year, month = last_month.year, last_month.month
    for _ in range(count):
        out.append(names[month])
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]
