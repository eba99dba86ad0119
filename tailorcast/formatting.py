"""Money, dates and numbers in the customer's locale: the one place that formats them.

Money is always ``Decimal``; Babel does the locale rules (symbol position,
separators, digits).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date, tokenize_pattern, untokenize_pattern
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


# The article a date takes in a sentence, by the CLDR ordinal category of its day number. CLDR's Italian
# "many" (8, 11, 80, 800) is the category that elides the article: l'8, l'11, but il 18 and il 1°.
DATE_ARTICLES = {"it": {"many": "l'", "other": "il "}, "fr": {"other": "le "}, "es": {"other": "el "}}
# The first day of a month is said as an ordinal in dates: il 1° dicembre, le 1er décembre.
FIRST_DAY = {"it": "1°", "fr": "1er"}


def date_in_sentence(value: dt.date, locale: str, form: str = "long") -> str:
    """A date as it is said inside a sentence: with the article its language puts before the day
    ("entro l'11 dicembre", "il 1° dicembre", "avant le 1er décembre"); the plain date in other languages.

    ``form`` is a Babel form or a CLDR pattern, as for :func:`date`; the article comes only when the
    pattern starts with the day (a weekday or a month first takes none).
    """
    loc = parse_locale(locale)
    pattern = loc.date_formats[form].pattern if form in ("short", "medium", "long", "full") else form
    tokens = tokenize_pattern(pattern)
    first = FIRST_DAY.get(loc.language) if value.day == 1 else None
    said = [("chars", first) if first and kind == "field" and what[0] == "d" else (kind, what) for kind, what in tokens]
    text = _format_date(value, format=untokenize_pattern(said), locale=loc)
    articles = DATE_ARTICLES.get(loc.language)
    if not articles or not tokens or tokens[0][0] != "field" or tokens[0][1][0] != "d":
        return text
    category = "other" if first else loc.ordinal_form(value.day)
    return articles.get(category, articles["other"]) + text


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
