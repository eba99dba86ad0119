"""Money as integer cents (or ``Decimal``, never floats), and the references and currencies that go with it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..errors import PaymentError

DEFAULT_CURRENCY = "EUR"
MAX_CENTS = 10**12 - 1  # 9,999,999,999.99: beyond any bill, below every provider's limit
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def to_cents(amount: Decimal | str, field: str = "amount") -> int:
    """``Decimal('128.48')`` or ``'128.48'`` → ``12848``; refuses floats, fractions of a cent and ≤ 0."""
    if isinstance(amount, (float, bool)) or not isinstance(amount, (Decimal, str)):
        raise PaymentError(field, f"pass a Decimal or a decimal string like '128.48', not {type(amount).__name__}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise PaymentError(field, f"{amount!r} is not a decimal number; write it like '128.48'") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise PaymentError(field, f"{amount!r} has fractions of a cent; round it to 2 decimals first")
    cents = int(value * 100)
    check_cents(cents, field)
    return cents


def check_cents(cents: int, field: str = "amount") -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise PaymentError(field, f"must be an integer number of cents, not {type(cents).__name__}")
    if not 1 <= cents <= MAX_CENTS:
        raise PaymentError(field, f"{cents} cents is out of range; it must be between 1 and {MAX_CENTS}")
    return cents


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def check_ref(ref: str, field: str = "ref") -> str:
    """Invoice references go into URLs, logs and QR codes: letters, digits and ``._/-`` only."""
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        raise PaymentError(field, f"invoice reference {ref!r} is not allowed: use 1-64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit")
    return ref


def check_currency(currency: str, field: str = "cur") -> str:
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise PaymentError(field, f"currency {currency!r} is not an ISO 4217 code like '{DEFAULT_CURRENCY}'")
    return currency
