"""QR codes to pay from the page: SEPA EPC for bank apps, pagoPA for Italian notices.

Payloads are built and validated in :mod:`tailorcast.payments`; this module only draws them.
"""

from __future__ import annotations

from decimal import Decimal

import segno
from markupsafe import Markup
from segno import helpers

from tailorcast.payments import pagopa_payload


def epc_qr(name: str, iban: str, amount: Decimal, reference: str, bic: str | None = None):
    """A SEPA credit-transfer QR code (EPC069-12, 'BCD' version 002)."""
    return helpers.make_epc_qr(name=name, iban=iban, amount=Decimal(amount), text=reference[:140], bic=bic, encoding="utf-8")


def epc_svg(qr: segno.QRCode, title: str) -> Markup:
    return qr_svg(qr, title, "epc")


def qr_svg(qr: segno.QRCode, title: str, css_class: str) -> Markup:
    """A QR code as accessible inline SVG (no request, scales with CSS)."""
    svg = qr.svg_inline(scale=4, border=4, dark="#111111", light="#ffffff", svgclass=css_class, title=title, omitsize=True)
    # str + Markup would escape the str half (and print the tag as text): build the tag as plain text.
    label = str(Markup.escape(title))
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))


def pagopa_qr(notice_code: str, creditor_fiscal_code: str, amount_cents: int) -> segno.QRCode:
    """A pagoPA notice QR code: symbol version 4, error correction M, as the notice spec requires."""
    return segno.make_qr(pagopa_payload(notice_code, creditor_fiscal_code, amount_cents), error="m", version=4, boost_error=False)
