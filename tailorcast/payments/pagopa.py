"""pagoPA notice QR payloads (``PAGOPA|002|…``), the Italian public-sector payment notice."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import PaymentError
from .amounts import check_cents

_PAGOPA_MAX_CENTS = 99_999_999_999  # 11 digits


@dataclass(frozen=True)
class PagoPaNotice:
    """An Italian pagoPA payment notice: what its QR code says (spec: 'Codice QR', avviso 3.0)."""

    notice_code: str  # 18 digits: aux digit (0-3) + application/segregation code + IUV
    creditor_fiscal_code: str  # 11 digits: the creditor body's codice fiscale
    amount_cents: int

    def __post_init__(self) -> None:
        if not isinstance(self.notice_code, str) or not re.fullmatch(r"[0-3][0-9]{17}", self.notice_code):
            raise PaymentError("notice_code", f"{self.notice_code!r} must be 18 digits starting with the aux digit 0-3 (the 'codice avviso' printed on the notice, without spaces)")
        check_creditor(self.creditor_fiscal_code)
        check_cents(self.amount_cents)
        if self.amount_cents > _PAGOPA_MAX_CENTS:
            raise PaymentError("amount", f"{self.amount_cents} cents has more than 11 digits, the most pagoPA allows")

    def payload(self) -> str:
        return f"PAGOPA|002|{self.notice_code}|{self.creditor_fiscal_code}|{self.amount_cents:02d}"


def check_creditor(fc: str, field: str = "creditor_fiscal_code") -> str:
    """The creditor body's 11-digit codice fiscale, with its check digit."""
    if not isinstance(fc, str) or not re.fullmatch(r"[0-9]{11}", fc):
        raise PaymentError(field, f"{fc!r} must be the creditor's 11-digit codice fiscale")
    if _luhn_it(fc[:10]) != int(fc[10]):
        raise PaymentError(field, f"{fc!r}: the check digit should be {_luhn_it(fc[:10])}; look for a typo")
    return fc


def _luhn_it(digits: str) -> int:
    """Check digit of an Italian numeric fiscal code / partita IVA (Luhn over the first 10 digits)."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def pagopa_payload(notice_code: str, creditor_fiscal_code: str, amount_cents: int) -> str:
    """``PAGOPA|002|<18-digit notice code>|<11-digit creditor fiscal code>|<amount in cents>``.

    Spaces in the notice code (as printed in groups) are removed.
    """
    code = notice_code.replace(" ", "") if isinstance(notice_code, str) else notice_code
    return PagoPaNotice(code, creditor_fiscal_code, amount_cents).payload()


def parse_pagopa_payload(text: str) -> PagoPaNotice:
    parts = text.split("|") if isinstance(text, str) else []
    if len(parts) != 5 or parts[0] != "PAGOPA" or parts[1] != "002":
        raise PaymentError("pagopa", "not a pagoPA QR payload; expected 'PAGOPA|002|<notice>|<fiscal code>|<cents>'")
    if not re.fullmatch(r"[0-9]{2,11}", parts[4]):
        raise PaymentError("amount", f"{parts[4]!r} must be 2-11 digits of euro cents")
    return PagoPaNotice(parts[2], parts[3], int(parts[4]))
