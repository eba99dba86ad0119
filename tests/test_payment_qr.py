"""QR codes a phone or a bank app must be able to read: decoded with zxing-cpp."""

from __future__ import annotations

import io
from decimal import Decimal

from PIL import Image

from helpers.pictures import decode_qr
from microsite.payment import epc_qr
from tailorcast.payments.epc import epc_payload


def test_epc_qr_decodes_to_a_sepa_transfer():
    qr = epc_qr(epc_payload("Lumen Energy S.p.A.", "IT60X0542811101000000123456", Decimal("128.48"), text="2026-10-000001", bic="BPMOIT22XXX"))
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=6, border=4)
    (text,) = decode_qr(Image.open(io.BytesIO(buf.getvalue())))
    lines = text.split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[4] == "BPMOIT22XXX" and lines[5] == "Lumen Energy S.p.A."
    assert lines[6] == "IT60X0542811101000000123456"
    assert lines[7] == "EUR128.48"
    assert "2026-10-000001" in lines


def _customer(template, **over):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    row = dict(customer_id="C1", first_name="Giulia", email="g@example.com", locale="it", invoice_id="2026-10-000001",
               amount_due="128.48", due_date="2026-12-15", period_end="2026-10-31", kwh=";".join(["100"] * 12))
    row.update(over)
    return customer_context(template, validate_row(template, 2, row))


def test_video_pay_scene_qr_decodes_to_the_customer_pay_link(template):
    from renderer.video import resolve_all

    ctx = _customer(template)
    for rendition in ("landscape", "portrait"):
        pay = next(s for s in resolve_all(template, ctx, rendition) if s.id == "pay")
        frame = pay.frame(pay.frames - 1)
        assert decode_qr(frame) == [ctx["pay_link"]], rendition
    assert ctx["pay_link"] == "https://pay.lumen-energy.example/checkout?ref=2026-10-000001"


def test_hostile_name_is_drawn_as_literal_text_in_the_video(template):
    from renderer.text import draw_text
    from renderer.video import resolve_all

    ctx = _customer(template, first_name="<script>alert(1)</script>", locale="en")
    greeting = next(s for s in resolve_all(template, ctx, "landscape") if s.id == "greeting")
    layer = template.scene("greeting").layers[0]
    sprite = next(sp for sp in greeting.sprites if sp.layer == 0)
    x, y, w, h = layer.box_for("landscape").rect(1280, 720)
    from renderer.overlays import _text_style, LayerInput

    li = LayerInput("text", w, h, 720, dict(layer.style), {"text": "Hello <script>alert(1)</script>,"}, "ltr", ctx["brand"])
    expected = draw_text("Hello <script>alert(1)</script>,", w, h, _text_style(li))
    assert sprite.image.tobytes() == expected.tobytes()
    assert "Hello <script>alert(1)</script>," in greeting.captions
