"""The template language: layer types, animations, conditions, variants, RTL, renditions, validation."""

from __future__ import annotations


import pytest
from PIL import Image

from helpers.samples import ROOT, TEMPLATE_DIR, copy_template, edit_file
from renderer import animation
from renderer.overlays import LAYER_TYPES, LayerInput, render_layer
from tailorcast.errors import TemplateError
from tailorcast.spec.model import EFFECTS
from tailorcast.spec.load import load_template

REMINDER_DIR = ROOT / "templates" / "payment-reminder"


@pytest.fixture(scope="module")
def reminder():
    return load_template(REMINDER_DIR)


def _ctx(template, **row):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    return customer_context(template, validate_row(template, 2, row))


def _reminder_row(**over):
    row = dict(customer_id="R1", first_name="Ann", email="a@example.com", locale="en", invoice_id="I-1", amount_due="200.00",
               due_date="2026-10-15", days_overdue="45")
    row.update(over)
    return row


LAYER_PARAMS = {
    "text": {"text": "Hello"},
    "button": {"text": "Pay now"},
    "shape": {},
    "image": {"src_path": str(ROOT / "assets" / "brand" / "lumen-logo.png")},
    "qr": {"data": "https://pay.example/x"},
    "chart": {"values": (1, 5, 3), "labels": ("a", "b", "c"), "kind": "bar"},
}


@pytest.mark.parametrize("kind", sorted(LAYER_TYPES))
def test_every_layer_type_draws_inside_its_box(kind):
    li = LayerInput(kind, 300, 200, 720, {"fill": "#FF0000"}, LAYER_PARAMS[kind], "ltr", {"accent": "#FFB703"})
    img = render_layer(li)
    assert img.size == (300, 200) and img.mode == "RGBA"
    assert img.getbbox() is not None  # something visible


def test_line_chart_differs_from_bar_chart():
    base = dict(LAYER_PARAMS["chart"])
    bar = render_layer(LayerInput("chart", 300, 200, 720, {}, {**base, "kind": "bar"}, "ltr", {}))
    line = render_layer(LayerInput("chart", 300, 200, 720, {}, {**base, "kind": "line"}, "ltr", {}))
    assert bar.tobytes() != line.tobytes()


@pytest.mark.parametrize("effect", [e for e in EFFECTS if e != "none"])
def test_every_animation_goes_from_hidden_to_in_place(effect):
    still = Image.new("RGBA", (60, 30), (255, 0, 0, 255))
    canvas = animation.canvas_for((effect,), 60, 30, 720)
    start = animation.appearance(still, effect, 0.0, canvas, 720)
    mid = animation.appearance(still, effect, 0.5, canvas, 720)
    end = animation.appearance(still, effect, 1.0, canvas, 720)
    placed = Image.new("RGBA", (canvas.width, canvas.height))
    placed.alpha_composite(still, (canvas.ox, canvas.oy))
    assert start.getbbox() is None
    assert end.tobytes() == placed.tobytes()
    assert mid.tobytes() not in (start.tobytes(), end.tobytes())


def test_scene_condition_shows_the_instalment_offer_only_above_the_threshold(reminder):
    from renderer.scenes import played_scenes

    big = list(played_scenes(reminder, _ctx(reminder, **_reminder_row(amount_due="200.00"))))
    small = list(played_scenes(reminder, _ctx(reminder, **_reminder_row(amount_due="99.00"))))
    assert "instalments" in big and "instalments" not in small
    assert small == ["intro", "overdue", "pay", "outro"]


def test_layer_condition_removes_the_layer(tmp_path):
    root = _copy(TEMPLATE_DIR, tmp_path)
    _edit(root, "        text: \"{{ t('usage_title') }}\"", "        text: \"{{ t('usage_title') }}\"\n        when: \"amount_due > 1000\"")
    tpl = load_template(root)
    from renderer.scenes import resolve_scene

    row = dict(customer_id="C1", first_name="A", email="a@example.com", locale="en", invoice_id="I", amount_due="10.00",
               due_date="2026-12-01", period_end="2026-10-31", kwh=";".join(["1"] * 12))
    rs = resolve_scene(tpl, tpl.scene("amount"), _ctx(tpl, **row), rendition="landscape")
    assert 3 not in [s.layer for s in rs.sprites]
    rs2 = resolve_scene(tpl, tpl.scene("amount"), _ctx(tpl, **{**row, "amount_due": "2000.00"}), rendition="landscape")
    assert 3 in [s.layer for s in rs2.sprites]


@pytest.mark.parametrize("days,variant,intro", [
    (45, "firm", "Important: your payment is overdue"),
    (30, "firm", "Important: your payment is overdue"),
    (29, "friendly", "A friendly reminder from Lumen Energy"),
    (3, "friendly", "A friendly reminder from Lumen Energy"),
])
def test_variant_rules_pick_the_tone_and_its_strings(reminder, days, variant, intro):
    ctx = _ctx(reminder, **_reminder_row(days_overdue=str(days)))
    assert ctx["variant"] == variant
    assert ctx["t"]("intro_title") == intro


def test_plural_forms_follow_the_locale(reminder):
    en = _ctx(reminder, **_reminder_row(days_overdue="1"))
    assert "is 1 day late" in en["t"]("overdue_line", count=1, date="x")
    assert "is 2 days late" in en["t"]("overdue_line", count=2, date="x")
    ar = _ctx(reminder, **_reminder_row(locale="ar", days_overdue="2"))
    assert "متأخرة يومين" in ar["t"]("overdue_line", count=2, date="x")  # the dual form


def test_right_to_left_layout_mirrors_boxes_and_aligns_text_right(reminder):
    from renderer.scenes import resolve_scene

    ltr = resolve_scene(reminder, reminder.scene("overdue"), _ctx(reminder, **_reminder_row(locale="en")), rendition="landscape")
    rtl = resolve_scene(reminder, reminder.scene("overdue"), _ctx(reminder, **_reminder_row(locale="ar", first_name="أحمد")), rendition="landscape")
    hello_ltr = next(s for s in ltr.sprites if s.layer == 0)
    hello_rtl = next(s for s in rtl.sprites if s.layer == 0)
    assert hello_ltr.x == round(0.07 * 1280)
    assert abs(hello_rtl.x + hello_rtl.image.width - 0.93 * 1280) <= 1
    l_bbox, r_bbox = hello_ltr.image.getbbox(), hello_rtl.image.getbbox()
    assert l_bbox[0] < 5  # start-aligned = left in English
    assert hello_rtl.image.width - r_bbox[2] < 5  # start-aligned = right in Arabic
    assert rtl.sprites[1].enter.effect == "wipe" and rtl.sprites[1].rtl


def test_slides_swap_sides_in_right_to_left_locales(reminder):
    from renderer.scenes import resolve_scene

    row = _reminder_row(amount_due="300.00")
    en = resolve_scene(reminder, reminder.scene("instalments"), _ctx(reminder, **row), rendition="portrait")
    ar = resolve_scene(reminder, reminder.scene("instalments"), _ctx(reminder, **{**row, "locale": "ar"}), rendition="portrait")
    assert en.sprites[0].enter.effect == "slide-left" and ar.sprites[0].enter.effect == "slide-right"


@pytest.mark.parametrize("rendition,size", [("portrait", (720, 1280)), ("landscape", (1280, 720))])
def test_both_renditions_resolve_at_their_size(reminder, rendition, size):
    from renderer.video import resolve_all

    scenes = resolve_all(reminder, _ctx(reminder, **_reminder_row()), rendition)
    assert {s.background.size for s in scenes} == {size}


# --- validation: one broken template per error class, message and location asserted ---------------


_copy, _edit = copy_template, edit_file


CASES = [
    ("unknown key", ("brand:\n", "brand:\n  slogan: hi\n"), "brand", "Additional properties are not allowed ('slogan' was unexpected); allowed keys here:"),
    ("missing customer_id", ("  customer_id: {type: text, required: true, max_length: 64}\n", ""), "fields", "field 'customer_id' is missing"),
    ("numbers without length", ("  days_overdue: {type: integer, required: true}", "  days_overdue: {type: integer, required: true}\n  history: {type: numbers}"), "fields.history", "a numbers field needs length:"),
    ("duplicate scene", ("  - id: outro", "  - id: pay"), "scenes[4].id", "scene id 'pay' is used twice"),
    ("jinja syntax", ("{{ t('plan_hint') }}", "{{ t('plan_hint' }}"), "scenes[2].layers[2].text", "fix the Jinja syntax"),
    ("bad condition", ('when: "amount_due > 150"', 'when: "amount_due >"'), "scenes[2].when", "cannot parse"),
    ("unknown rendition in layout", ("          portrait: {box: {x: 0.5, y: 0.3, w: 0.8, h: 0.12}}", "          square: {box: {x: 0.5, y: 0.3, w: 0.8, h: 0.12}}"), "scenes[0].layers[0].layout.square", "no rendition 'square'"),
    ("layer outside the frame", ("        box: {x: 0.5, y: 0.3, w: 0.44, h: 0.22}", "        box: {x: 0.9, y: 0.3, w: 0.44, h: 0.22}"), "scenes[0].layers[0].box", "leaves the landscape frame"),
    ("default variant not last", ("  - {name: firm, when: \"days_overdue >= 30\"}\n  - {name: friendly}", "  - {name: friendly}\n  - {name: firm, when: \"days_overdue >= 30\"}"), "variants[0]", "only the last variant may be the default"),
    ("unknown default rendition", ("default_rendition: portrait", "default_rendition: square"), "video.default_rendition", "'square' is not a rendition"),
    ("fallback not a locale", ("fallback_locale: en", "fallback_locale: de"), "fallback_locale", "'de' is not in locales"),
    ("unknown poster scene", ("poster: {scene: overdue, at: 2.5}", "poster: {scene: nope, at: 2.5}"), "video.poster.scene", "no scene 'nope'"),
    ("animations longer than the layer", ("        exit: {effect: fade, duration: 0.4}", "        exit: {effect: fade, duration: 2.9}"), "scenes[4].layers[0]", "animations are longer than the layer is shown"),
    ("bad effect duration", ("        exit: {effect: fade, duration: 0.4}", "        exit: {effect: fade, duration: 0}"), "scenes[4].layers[0].exit", "is not an animation"),
]


@pytest.mark.parametrize("name,edit,where,message", CASES, ids=[c[0] for c in CASES])
def test_validation_errors_say_what_where_and_how(tmp_path, name, edit, where, message):
    root = _copy(REMINDER_DIR, tmp_path)
    _edit(root, *edit)
    with pytest.raises(TemplateError) as err:
        load_template(root)
    hits = [str(p) for p in err.value.problems if where in p.where and message in p.message]
    assert hits, [str(p) for p in err.value.problems]
    assert hits[0].startswith("template.yaml:")  # a line number
    line = int(hits[0].split(":")[1].split()[0])
    assert 1 <= line <= len((root / "template.yaml").read_text().splitlines())


def test_missing_strings_file_and_invalid_strings_yaml(tmp_path):
    root = _copy(REMINDER_DIR, tmp_path)
    (root / "strings" / "tr.yaml").unlink()
    (root / "strings" / "fr.yaml").write_text("a: [unclosed\n")
    with pytest.raises(TemplateError) as err:
        load_template(root)
    text = str(err.value)
    assert "strings/tr.yaml: missing; locale 'tr' is listed in locales: add the file or remove the locale" in text
    assert "strings/fr.yaml: not valid YAML" in text


def test_page_must_exist(tmp_path):
    root = _copy(REMINDER_DIR, tmp_path)
    (root / "page.html").unlink()
    with pytest.raises(TemplateError, match="page 'page.html' not found in the template folder"):
        load_template(root)


def test_strings_no_font_can_draw_are_reported(tmp_path):
    from renderer.checks import check_template

    root = _copy(REMINDER_DIR, tmp_path)
    _edit(root, "pay_title: Settle it in one tap", "pay_title: 一键付款", "strings/en.yaml")
    with pytest.raises(TemplateError) as err:
        check_template(load_template(root))
    (problem,) = err.value.problems
    assert problem.where == "strings/en.yaml pay_title" and "U+4E00" in problem.message and "add a font" in problem.message


# --- the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ t.__init__.__globals__ }}",
    "{{ brand.__class__ }}",
    "{% include '/etc/passwd' %}",
])
def test_sandbox_refuses_internals_and_files(reminder, payload):
    root_ctx = _ctx(reminder, **_reminder_row())
    from tailorcast.expressions import ExpressionError, evaluate_text

    with pytest.raises(ExpressionError):
        evaluate_text(payload, root_ctx)


def test_page_cannot_include_files_outside_the_template(tmp_path):
    from jinja2 import FileSystemLoader
    from jinja2.exceptions import TemplateNotFound

    from tailorcast.expressions import page_env

    (tmp_path / "page.html").write_text("{% include '../../../../etc/passwd' %}")
    with pytest.raises(TemplateNotFound):
        page_env(FileSystemLoader(str(tmp_path))).get_template("page.html").render()


def test_variant_rules_see_the_locale_too(tmp_path):
    root = _copy(REMINDER_DIR, tmp_path)
    _edit(root, '  - {name: firm, when: "days_overdue >= 30"}', '  - {name: firm, when: "days_overdue >= 30 and lang != \'ar\'"}')
    tpl = load_template(root)
    assert _ctx(tpl, **_reminder_row(days_overdue="45"))["variant"] == "firm"
    assert _ctx(tpl, **_reminder_row(days_overdue="45", locale="ar"))["variant"] == "friendly"


def test_rendition_is_known_to_expressions(tmp_path):
    from renderer.scenes import resolve_scene

    root = _copy(REMINDER_DIR, tmp_path)
    _edit(root, "        text: \"{{ t('outro') }}\"", "        text: \"{{ t('outro') }} {{ rendition }}\"")
    tpl = load_template(root)
    ctx = _ctx(tpl, **_reminder_row())
    for rendition in ("portrait", "landscape"):
        rs = resolve_scene(tpl, tpl.scene("outro"), ctx, rendition=rendition)
        assert rs.captions == (ctx["t"]("outro"),) and rs.sprites[0].image.getbbox()


def test_a_latin_name_first_does_not_flip_an_arabic_line():
    from renderer.text import TextStyle, draw_text

    style = TextStyle(size=40, color=(255, 255, 255, 255), align="start", max_lines=1, direction="rtl")
    img = draw_text("Layla، تذكير سريع", 600, 60, style)
    left, _, right, _ = img.getbbox()
    assert 600 - right < 5 and left > 100  # starts at the right edge, like dir=rtl in a browser
