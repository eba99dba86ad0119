"""Stripe Payment Links: ``client_reference_id`` carries the invoice reference, ``prefilled_email`` the e-mail."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from ..errors import PaymentError

STRIPE_BASE = "https://buy.stripe.com/"
_STRIPE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CLIENT_REF = re.compile(r"[A-Za-z0-9_-]{1,200}")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def client_reference_id(value: str, *, sanitize: bool = False) -> str:
    """Stripe accepts only letters, digits, '-' and '_', up to 200 characters.

    With ``sanitize`` every run of other characters becomes ``_`` (beware: two
    references may then collide); without it such a value is an error.
    """
    if not isinstance(value, str):
        raise PaymentError("client_reference_id", f"must be text, not {type(value).__name__}")
    if sanitize:
        value = re.sub(r"[^A-Za-z0-9_-]+", "_", value)
    if not _CLIENT_REF.fullmatch(value):
        bad = sorted(set(re.sub(r"[A-Za-z0-9_-]", "", value)))
        why = f"has {len(value)} characters (1-200 allowed)" if not 1 <= len(value) <= 200 else f"contains {''.join(bad)!r}"
        raise PaymentError("client_reference_id", f"{value!r} {why}; Stripe allows only letters, digits, '-' and '_' (pass sanitize=True to replace the others with '_')")
    return value


def stripe_payment_link(link: str, reference: str, email: str | None = None, *, sanitize: bool = False) -> str:
    """``https://buy.stripe.com/<id>?client_reference_id=…&prefilled_email=…`` (properly URL-encoded).

    ``link`` is the Payment Link's id or its full ``https://buy.stripe.com/<id>`` URL.
    """
    link_id = link[len(STRIPE_BASE):] if isinstance(link, str) and link.startswith(STRIPE_BASE) else link
    if not isinstance(link_id, str) or not _STRIPE_ID.fullmatch(link_id):
        raise PaymentError("stripe.link", f"{link!r} is not a Stripe Payment Link; copy it from the Dashboard, like 'https://buy.stripe.com/test_4gw3cu'")
    params = {"client_reference_id": client_reference_id(reference, sanitize=sanitize)}
    if email:
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise PaymentError("prefilled_email", "not a plain e-mail address like 'name@example.com'; leave it out rather than send a broken one")
        params["prefilled_email"] = email
    return STRIPE_BASE + link_id + "?" + urlencode(params, quote_via=quote, safe="")
