"""SEPA EPC QR payloads (EPC069-12, ``BCD`` version 002) with IBAN, BIC and RF-reference checks.

The one EPC encoder: the page draws exactly these bytes (microsite/payment.py).
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..errors import PaymentError
from .amounts import cents_to_decimal, to_cents

_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
EPC_MAX_BYTES = 331
EPC_CURRENCY = "EUR"  # SEPA credit transfers are in euro only


def check_iban(iban: str) -> str:
    """Normalised IBAN (no spaces, upper case) if its ISO 13616 mod-97 check holds."""
    value = re.sub(r"\s+", "", iban or "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", value):
        raise PaymentError("iban", f"{iban!r} is not an IBAN (country code, 2 check digits, up to 30 letters or digits)")
    number = int("".join(str(int(c, 36)) for c in value[4:] + value[:4]))
    if number % 97 != 1:
        raise PaymentError("iban", f"{iban!r}: the check digits do not match; look for a typo")
    return value


def check_account(name: str, iban: str, bic: str | None = None) -> tuple[str, str, str]:
    """The beneficiary as the payload writes it: name (1-70 characters), normalised IBAN, BIC ("" when not given)."""
    name = (name or "").strip()
    if not 0 < len(name) <= 70:
        raise PaymentError("name", f"the beneficiary name must be 1-70 characters, got {len(name)}")
    iban = check_iban(iban)
    bic = (bic or "").strip().upper()
    if bic and not _BIC.fullmatch(bic):
        raise PaymentError("bic", f"{bic!r} is not a BIC (8 or 11 letters and digits, like 'BPMOIT22XXX')")
    return name, iban, bic


def _check_rf(reference: str) -> str:
    value = reference.replace(" ", "").upper()
    if not re.fullmatch(r"RF[0-9]{2}[A-Z0-9]{1,21}", value) or int("".join(str(int(c, 36)) for c in value[4:] + value[:4])) % 97 != 1:
        raise PaymentError("reference", f"{reference!r} is not an ISO 11649 creditor reference (RF + 2 check digits); use text= for a free-form reference")
    return value


def epc_payload(name: str, iban: str, amount: Decimal | str, *, text: str | None = None, reference: str | None = None,
                bic: str | None = None, purpose: str | None = None) -> str:
    """The EPC069-12 'BCD' 002 SCT payload (UTF-8): the page's bank QR code draws exactly these bytes.

    Either ``text`` (free remittance, ≤ 140) or ``reference`` (ISO 11649 RF…, ≤ 35), not both.
    """
    name, iban, bic = check_account(name, iban, bic)
    cents = to_cents(amount)
    if cents > 99_999_999_999:
        raise PaymentError("amount", "EPC QR codes allow at most 999999999.99")
    if purpose and not re.fullmatch(r"[A-Z0-9]{4}", purpose):
        raise PaymentError("purpose", f"{purpose!r} is not a 4-character SEPA purpose code")
    text = (text or "").rstrip()
    reference = _check_rf(reference) if reference else ""
    if bool(text) == bool(reference):
        raise PaymentError("text", "give exactly one of text (free remittance information) or reference (an RF creditor reference)")
    if len(text) > 140:
        raise PaymentError("text", f"remittance text is {len(text)} characters; the most is 140")
    amount_text = f"{EPC_CURRENCY}{cents_to_decimal(cents):.2f}".rstrip("0").rstrip(".")
    lines = ["BCD", "002", "1", "SCT", bic, name, iban, amount_text, purpose or "", reference]
    if text:
        lines.append(text)
    payload = "\n".join(lines)
    if len(payload.encode()) > EPC_MAX_BYTES:
        raise PaymentError("epc", f"the payload is {len(payload.encode())} bytes; EPC QR codes allow {EPC_MAX_BYTES}; shorten the name or text")
    return payload
