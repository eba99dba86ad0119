"""Template loading: the sample is valid; a broken template reports every problem with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailorcast.errors import TemplateError
from tailorcast.spec.load import load_template

from helpers.samples import TEMPLATE_DIR, copy_template, edit_file


def test_sample_template_loads_with_shared_and_personal_scenes(template):
    assert template.name == "bill-explainer"
    assert [s.id for s in template.scenes] == ["intro", "greeting", "amount", "tip", "pay"]
    assert {s.id: s.shared for s in template.scenes} == {"intro": True, "greeting": False, "amount": False, "tip": True, "pay": False}
    assert 25 <= sum(s.duration for s in template.scenes) <= 35
    assert set(template.locales) >= {"it", "fr", "tr", "id", "en"}


@pytest.fixture
def broken(tmp_path):
    """A copy of the sample template to break, one edit per test."""
    return copy_template(TEMPLATE_DIR, tmp_path)


_edit = edit_file


def _problems(folder: Path) -> list[str]:
    with pytest.raises(TemplateError) as err:
        load_template(folder)
    return [str(p) for p in err.value.problems]


def test_layer_longer_than_its_scene_is_reported_with_line_and_fix(broken):
    _edit(broken, "        start: 0.6\n        enter: slide-up", "        start: 0.6\n        end: 9\n        enter: slide-up")
    (msg,) = _problems(broken)
    assert msg.startswith("template.yaml:")
    assert "scenes[0].layers[1].end" in msg
    assert "ends at 9 s but scene 'intro' lasts 4 s; shorten the layer or lengthen the scene" in msg


def test_unknown_field_in_expression_names_the_field(broken):
    _edit(broken, "name=first_name) }}\"\n        box: {x: 0.5, y: 0.4", "name=frist_name) }}\"\n        box: {x: 0.5, y: 0.4")
    (msg,) = _problems(broken)
    assert "uses 'frist_name', which is not a field" in msg
    assert "scenes[1].layers[0].text" in msg


def test_schema_errors_carry_yaml_line_numbers(broken):
    _edit(broken, "enter: pop\n      - type: text", "enter: explode\n      - type: text")
    problems = _problems(broken)
    assert any("scenes[0].layers[0].enter" in p and "explode" in p and "fade" in p for p in problems), problems
    line = int(problems[0].split(":")[1].split()[0])
    assert "explode" in (broken / "template.yaml").read_text().splitlines()[line - 1]


def test_missing_string_in_one_locale_is_reported(broken):
    _edit(broken, "pay_now: Şimdi öde\n", "", "strings/tr.yaml")
    (msg,) = _problems(broken)
    assert msg.startswith("strings/tr.yaml") and "pay_now" in msg


def test_asset_paths_cannot_leave_their_folder(broken):
    _edit(broken, "logo: assets:brand/lumen-logo.png", "logo: ../../../../etc/passwd")
    problems = _problems(broken)
    assert any("leaves the template folder" in p for p in problems), problems


def test_missing_asset_is_reported(broken):
    _edit(broken, "src: assets:brand/lumen-logo.png", "src: assets:brand/nope.png")
    (msg,) = _problems(broken)
    assert "asset 'assets:brand/nope.png' not found" in msg


def test_all_problems_are_reported_at_once(broken):
    _edit(broken, "duration: 8", "duration: 0.5")
    _edit(broken, "pay_now: Pay now\n", "", "strings/en.yaml")
    problems = _problems(broken)
    assert len(problems) >= 3  # layers past the end of 'amount', and the missing key
    assert any("strings/en.yaml" in p for p in problems)


def test_sandbox_refuses_python_internals(template):
    from tailorcast.expressions import ExpressionError, evaluate_text

    with pytest.raises(ExpressionError):
        evaluate_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", {"locale": "en"})


# --- encoder profiles: the spec keeps the name, the renderer owns the settings ---------------------


def test_the_schema_lists_exactly_the_renderers_encoder_profiles():
    import json

    from renderer.profiles import PROFILES
    from tailorcast.paths import SCHEMA_PATH
    from tailorcast.spec.model import DEFAULT_PROFILE

    profile = json.loads(SCHEMA_PATH.read_text())["$defs"]["profile"]
    named, settings = profile["oneOf"]
    assert named["enum"] == list(PROFILES)
    assert settings["properties"]["name"]["enum"] == list(PROFILES)
    assert DEFAULT_PROFILE in PROFILES


@pytest.mark.parametrize("written, expected", [
    ("profile: superb", "'superb' is not an encoder profile; use one of balanced, small, fast, or settings like {name: small, crf: 24}"),
    ("profile: {name: superb, crf: 20}", "'superb' is not one of balanced, small, fast"),
])
def test_unknown_encoder_profile_is_reported_with_its_line(broken, written, expected):
    _edit(broken, "profile: {preset: veryfast, crf: 23, profile: high, audio_bitrate: 128k}", written)
    (msg,) = _problems(broken)
    assert msg.startswith("template.yaml:") and "video.profile" in msg and expected in msg
    line = int(msg.split(":")[1].split()[0])
    assert "superb" in (broken / "template.yaml").read_text().splitlines()[line - 1]


@pytest.mark.parametrize("written, settings", [
    ("profile: small", ("medium", 26, "high", "96k", "small")),
    ("profile: {name: small, crf: 24}", ("medium", 24, "high", "96k", "small")),
    ("profile: {preset: ultrafast, crf: 30}", ("ultrafast", 30, "high", "128k", "balanced")),
])
def test_encoder_profile_is_the_named_one_with_the_templates_overrides(broken, written, settings):
    from renderer.profiles import encoder_profile

    _edit(broken, "profile: {preset: veryfast, crf: 23, profile: high, audio_bitrate: 128k}", written)
    p = encoder_profile(load_template(broken).video)
    assert (p.preset, p.crf, p.profile, p.audio_bitrate, p.name) == settings


# --- brand, contact and payment: typed, with their defaults in one place ------------------------------


def test_brand_and_contact_read_in_expressions_without_private_paths(template):
    from tailorcast.context import locale_context
    from tailorcast.expressions import evaluate_text

    ctx = locale_context(template, "en")
    assert evaluate_text("{{ brand.name }} {{ brand.color }}", ctx) == f"{template.brand.name} {template.brand.color}"
    assert template.brand.logo_path.is_file() and "logo_path" not in ctx["brand"]
    assert ctx["contact"] == {k: v for k, v in vars(template.contact).items() if v is not None} != {}


def test_payment_defaults_apply_when_the_template_leaves_them_out(template):
    from tailorcast.spec.model import Payment

    assert template.payment.epc is not None and template.payment.provider == "url"
    assert (template.payment.reference_field, template.payment.amount_field, template.payment.currency) == ("invoice_id", "amount_due", "EUR")
    assert Payment().link == "" and Payment().currency_of({}) == "EUR" and Payment().currency_of({"currency": "chf"}) == "CHF"


@pytest.mark.parametrize("old,new,where,reason", [
    ("iban: IT60X0542811101000000123456", "iban: IT61X0542811101000000123456", "payment.epc.iban", "check digits do not match"),
    ('creditor: "15376371009"', 'creditor: "15376371008"', "payment.pagopa.creditor", "the check digit should be 9"),
], ids=["bank-qr-iban", "pagopa-creditor"])
def test_payment_accounts_are_checked_when_the_template_loads(broken, old, new, where, reason):
    _edit(broken, old, new)
    (msg,) = _problems(broken)
    assert msg.startswith("template.yaml:") and where in msg and reason in msg
    line = int(msg.split(":")[1].split()[0])
    assert new.split(": ")[1].strip('"') in (broken / "template.yaml").read_text().splitlines()[line - 1]


def test_schema_patterns_match_the_whole_value_as_json_schema_means(broken):
    """ECMA-262's ``$`` is the end of the text; jsonschema's re.search would let "bill-explainer\\n" through."""
    _edit(broken, "name: bill-explainer\n", 'name: "bill-explainer\\n"\n')
    problems = _problems(broken)
    assert any("template.yaml:" in p and "'bill-explainer\\n' has the wrong form" in p for p in problems), problems


def test_the_pattern_check_keeps_accepting_what_the_schema_allows():
    from tailorcast.spec.load import _ecma_regex

    assert _ecma_regex("^[a-z]+$").search("abc")
    assert not _ecma_regex("^[a-z]+$").search("abc\n")
    assert _ecma_regex(r"^cost\$").search("cost$")  # an escaped dollar is a character, not the anchor
    assert _ecma_regex("^(assets:)?[A-Za-z0-9_./-]+$").search("assets:logo.png")
