"""Money and dates in the customer's locale (Babel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tailorcast import formatting
from tailorcast.expressions import evaluate_text


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


@pytest.mark.parametrize("locale,day,said", [
    ("it", dt.date(2026, 12, 1), "il 1° dicembre 2026"),
    ("it", dt.date(2026, 3, 8), "l'8 marzo 2026"),
    ("it", dt.date(2026, 12, 11), "l'11 dicembre 2026"),
    ("it", dt.date(2026, 12, 18), "il 18 dicembre 2026"),
    ("fr", dt.date(2026, 12, 1), "le 1er décembre 2026"),
    ("fr", dt.date(2026, 12, 11), "le 11 décembre 2026"),
    ("es", dt.date(2026, 12, 11), "el 11 de diciembre de 2026"),
    ("en", dt.date(2026, 12, 1), "December 1, 2026"),
    ("tr", dt.date(2026, 12, 11), "11 Aralık 2026"),
])
def test_date_in_sentence_takes_the_article_its_language_says(locale, day, said):
    assert formatting.date_in_sentence(day, locale) == said


def test_date_in_sentence_adds_no_article_before_a_weekday_or_a_month():
    assert formatting.date_in_sentence(dt.date(2026, 12, 11), "it", "full") == "venerdì 11 dicembre 2026"
    assert formatting.date_in_sentence(dt.date(2026, 12, 1), "fr", "full") == "mardi 1er décembre 2026"
    assert formatting.date_in_sentence(dt.date(2026, 12, 8), "it", "MMMM yyyy") == "dicembre 2026"
    assert formatting.date_in_sentence(dt.date(2026, 12, 8), "it", "d MMMM") == "l'8 dicembre"


# ---- the sample templates say the due date the same way in the video, its captions, the transcript and the page

SAID = [("it", dt.date(2026, 12, 1), "il 1° dicembre 2026"), ("it", dt.date(2026, 3, 8), "l'8 marzo 2026"),
        ("it", dt.date(2026, 12, 11), "l'11 dicembre 2026"), ("it", dt.date(2026, 12, 18), "il 18 dicembre 2026"),
        ("fr", dt.date(2026, 12, 1), "le 1er décembre 2026")]
BILL = {"it": ("Da pagare entro {}", "Hai 128,48\xa0€ da pagare entro {}."),
        "fr": ("À régler avant {}", "Vous avez 128,48\xa0€ à régler avant {}.")}
REMINDER = {"it": ("Scaduta {}", "la bolletta scaduta {} è in ritardo"), "fr": ("À régler {}", "votre facture à régler {} a ")}


def _said(folder, customer_id: str, locale: str, due: dt.date, scene_id: str):
    """(the still's text lines of the scene's layers, its caption lines, the WebVTT, the page) for the row with
    another locale and due date."""
    import dataclasses

    from microsite.build import build_page
    from renderer.captions import cues_for, to_webvtt
    from renderer.video import resolve_all
    from tailorcast.context import customer_context
    from tailorcast.customers import read_customers
    from tailorcast.spec.load import load_template

    template = load_template(folder)
    row = next(c for c in read_customers(template, folder / "sample-customers.csv") if c.customer_id == customer_id)
    row = dataclasses.replace(row, locale=locale, strings_locale=locale, values={**row.values, "locale": locale, "due_date": due})
    ctx = customer_context(template, row)
    scenes = resolve_all(template, ctx)
    scene = next(s for s in scenes if s.id == scene_id)
    texts = [evaluate_text(layer.params["text"], {**ctx, "rendition": template.video.default_rendition})
             for layer in scene.scene.layers if layer.type == "text"]
    cues = cues_for(scenes)
    media = {"css": "s.css", "js": "p.js", "logo": "l.png", "video": "v.mp4", "download": "v.mp4", "poster": "p.jpg", "captions": "c.vtt",
             "videos": [{"src": "v.mp4", "poster": "p.jpg", "width": 720, "height": 1280, "orientation": "portrait"}]}
    page = build_page(template, ctx, media, [], [c.text for c in cues])
    return texts, list(scene.captions), to_webvtt(cues, locale), page, [c.text for c in cues]


@pytest.mark.parametrize("locale,due,said", SAID)
def test_bill_explainer_says_the_due_date_alike_in_still_captions_transcript_and_page(locale, due, said):
    import html

    from helpers.samples import TEMPLATE_DIR
    from renderer.text import missing_glyphs

    texts, captions, vtt, page, transcript = _said(TEMPLATE_DIR, "CUST-00001", locale, due, "amount")
    line, say = BILL[locale]
    assert line.format(said) in texts  # the due line the amount scene's still draws
    assert missing_glyphs(line.format(said)) == set()  # the fonts draw ° and the apostrophe
    assert say.format(said) in captions and say.format(said) in transcript
    assert say.format(said) in vtt  # cue text collapses breaking white space only: "128,48 €" stays one word
    assert f'<p class="date">{line.format(said)}</p>' in html.unescape(page)
    assert f"<p>{say.format(said)}</p>" in html.unescape(page)  # the transcript on the page
    assert " il l'" not in html.unescape(page) and "entro il " + said not in html.unescape(page)


@pytest.mark.parametrize("locale,due,said", [SAID[0], SAID[2], SAID[4]])
def test_payment_reminder_says_the_due_date_alike_in_still_captions_and_page(locale, due, said):
    import html

    from helpers.samples import REMINDER_DIR

    texts, captions, vtt, page, transcript = _said(REMINDER_DIR, "R-0001", locale, due, "overdue")
    line, sentence = REMINDER[locale]
    assert any(sentence.format(said) in t for t in texts)
    assert any(sentence.format(said) in c for c in captions) and sentence.format(said) in vtt
    assert any(sentence.format(said) in c for c in transcript)
    assert f'<p class="date">{line.format(said)}</p>' in html.unescape(page)
