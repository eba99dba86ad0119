"""Ways to pay from the page: the template's pay link and a SEPA EPC QR code for bank apps."""

from __future__ import annotations

from decimal import Decimal

import segno
from markupsafe import Markup
from segno import helpers


def epc_qr(name: str, iban: str, amount: Decimal, reference: str, bic: str | None = None):
    """A SEPA credit-transfer QR code (EPC069-12, 'BCD' version 002)."""
    return helpers.make_epc_qr(name=name, iban=iban, amount=Decimal(amount), text=reference[:140], bic=bic, encoding="utf-8")


def epc_svg(qr: segno.QRCode, title: str) -> Markup:
    svg = qr.svg_inline(scale=4, border=4, dark="#111111", light="#ffffff", svgclass="epc", title=title, omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="' + Markup.escape(title) + '" ', 1))
