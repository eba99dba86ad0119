"""QR codes to pay from the page: SEPA EPC for bank apps, pagoPA for Italian notices.

Payloads are built and validated in :mod:`tailorcast.payments` (``epc``, ``pagopa``); this module only draws them,
with the data mask every QR code of ours uses (``renderer.overlays.QR_MASK``: no penalty evaluation per code).
"""

from __future__ import annotations

import segno
from markupsafe import Markup

from renderer.overlays import QR_MASK


def epc_qr(payload: str) -> segno.QRCode:
    """A SEPA credit-transfer QR code for :func:`tailorcast.payments.epc.epc_payload`: UTF-8 bytes, error correction M (EPC069-12)."""
    return segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False, mask=QR_MASK)


def pagopa_qr(payload: str) -> segno.QRCode:
    """A pagoPA notice QR code for :func:`tailorcast.payments.pagopa.pagopa_payload`: version 4, error correction M, as the notice spec requires."""
    return segno.make_qr(payload, error="m", version=4, boost_error=False, mask=QR_MASK)


def epc_svg(qr: segno.QRCode, title: str) -> Markup:
    return qr_svg(qr, title, "epc")


def qr_svg(qr: segno.QRCode, title: str, css_class: str) -> Markup:
    """A QR code as accessible inline SVG (no request, scales with CSS)."""
    svg = qr.svg_inline(scale=4, border=4, dark="#111111", light="#ffffff", svgclass=css_class, title=title, omitsize=True)
    # str + Markup would escape the str half (and print the tag as text): build the tag as plain text.
    label = str(Markup.escape(title))
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))
