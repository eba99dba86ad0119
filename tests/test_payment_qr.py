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


# Every QR code we draw uses one fixed data mask (renderer.overlays.QR_MASK) instead of segno's penalty
# evaluation: a reader decodes any mask. These check that each kind we draw is segno's own code for that mask
# and that zxing-cpp reads back exactly the payload, over many payloads of the lengths and alphabets we send.

def _epc_payloads() -> list[str]:
    import random

    rng = random.Random(11)
    out = []
    for n in range(40):
        text = f"Fattura 2026-10-{n:06d} " + rng.choice(["Giulia Rossi", "Zoë Müller-Łukasz", "Ελένη Παπαδοπούλου", "Çağrı Öztürk"]) * (1 + n % 4)
        out.append(epc_payload("Lumen Energy S.p.A.", "IT60X0542811101000000123456", Decimal(rng.randint(1, 999_999)) / 100,
                               text=text[:140], bic="BPMOIT22XXX" if n % 2 else None))
    return out


def _pay_links() -> list[str]:
    import random

    rng = random.Random(12)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    return [f"https://pay.lumen-energy.example/checkout?ref=2026-10-{n:06d}" + ("&sig=" + "".join(rng.choice(alphabet) for _ in range(43))) * (n % 3)
            for n in range(40)]


def _png(qr, scale: int = 4) -> Image.Image:
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(buf.getvalue()))


def _svg_modules(svg: str):
    """The dark modules of a segno inline SVG (``M x y`` / ``m dx dy`` moves and ``h n`` runs), as a 0/1 array."""
    import re

    import numpy as np

    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1)) // int(re.search(r"scale\((\d+)\)", svg).group(1))
    path = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    grid = np.zeros((size, size), dtype=np.uint8)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            grid[int(y), int(x): int(x + float(a))] = 1
            x += float(a)
    return grid


def _svg_image(svg: str, scale: int = 4) -> Image.Image:
    import numpy as np

    grid = _svg_modules(svg)
    return Image.fromarray(np.where(grid == 1, 17, 255).astype(np.uint8)).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)


def test_every_page_qr_is_segnos_code_with_our_mask_and_decodes_to_the_exact_payload():
    import segno

    from microsite.payment import epc_svg, pagopa_qr, qr_svg
    from renderer.overlays import QR_MASK
    from tailorcast.payments.pagopa import pagopa_payload

    epcs = _epc_payloads()
    pagopas = [pagopa_payload(f"3010000000{n:08d}", "15376371009", 100 + 997 * n) for n in range(20)]
    for payload in epcs:
        qr = epc_qr(payload)
        assert qr.mask == QR_MASK
        assert qr.matrix == segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False, mask=QR_MASK).matrix
        assert decode_qr(_png(qr)) == [payload]
        svg = str(epc_svg(qr, "Bonifico"))
        assert decode_qr(_svg_image(svg)) == [payload]  # the page's inline SVG itself
    for payload in pagopas:
        qr = pagopa_qr(payload)
        assert (qr.mask, qr.version) == (QR_MASK, 4)
        assert decode_qr(_svg_image(str(qr_svg(qr, "pagoPA", "pagopa")))) == [payload]


def test_every_video_qr_size_is_segnos_code_with_our_mask_and_decodes_to_the_exact_link():
    import numpy as np
    import segno

    from renderer.overlays import QR_MASK, LayerInput, _qr_modules, qr_layer

    for n, link in enumerate(_pay_links()):
        qr = segno.make(link, error="m", micro=False, mask=QR_MASK)
        assert np.array_equal(_qr_modules(link)[2:-2, 2:-2], np.array([list(r) for r in qr.matrix], dtype=np.uint8))
        side = 120 + 37 * (n % 8)  # boxes of every size the renditions give a QR layer, from small to large
        card = qr_layer(LayerInput("qr", side, side + 11 * (n % 3), 720, {}, {"data": link}, "ltr", {}))
        flat = Image.new("RGB", card.size, (16, 40, 80))
        flat.paste(card, (0, 0), card)
        assert decode_qr(flat) == [link], (n, side)


def test_live_stills_and_the_built_page_carry_readable_codes(template):
    import re

    from renderer import live

    ctx = _customer(template, notice_code="301000000000000001")
    for rendition in ("landscape", "portrait"):
        found = []
        stills, sheets = live.live_sheets(template, ctx, rendition)
        for still in stills:  # as the page shows it: its drawn part, cut out of the published sheet
            left, top, w, h = still.drawn
            sheet = Image.open(io.BytesIO(sheets[still.sheet].data)).convert("RGBA")
            img = Image.new("RGBA", (still.width, still.height), (0, 0, 0, 0))
            img.paste(sheet.crop((still.sx, still.sy, still.sx + w, still.sy + h)), (left, top))
            flat = Image.new("RGB", img.size, (16, 40, 80))
            flat.paste(img, (0, 0), img)
            found += decode_qr(flat)
        assert found == [ctx["pay_link"]], rendition
    from microsite.build import build_page

    html = build_page(template, ctx, {"video": "v.mp4", "poster": "p.jpg", "download": "", "videos": [{"rendition": "landscape", "src": "v.mp4", "poster": "p.jpg", "width": 1280, "height": 720, "orientation": "landscape"}], "captions": "c.vtt", "css": "s.css", "js": "p.js", "logo": "l.svg"}, [], [])
    svgs = re.findall(r"<svg [^>]*class=\"(?:epc|pagopa)\".*?</svg>", html, re.S)
    texts = sorted(t for svg in svgs for t in decode_qr(_svg_image(svg)))
    assert len(texts) == 2 and texts[0].startswith("BCD\n002\n1\nSCT\n") and texts[1].startswith("PAGOPA|002|301000000000000001|15376371009|")
