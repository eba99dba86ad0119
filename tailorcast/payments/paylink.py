"""The customer's pay link, as the template's payment provider wants it.

- ``url`` (default): ``payment.link`` is a Jinja expression, rendered as is.
- ``signed``: ``payment.link`` is the payment page; Tailorcast appends the invoice
  reference, the amount in cents, the currency, an expiry (``valid_days`` after the
  due date, end of day UTC: no clock, so reruns give the same bytes), the
  customer's token and an HMAC signature, so the amount cannot be altered.
- ``stripe``: ``payment.link`` is a Stripe Payment Link; ``client_reference_id``
  carries the invoice reference and, with ``prefill_email: true``, the e-mail.
"""

from __future__ import annotations

from typing import Any, Mapping

from .. import expressions
from ..spec.model import Template
from .amounts import to_cents
from .links import SignedLink, derive_key, expiry, sign_link
from .stripe import stripe_payment_link

# Used where no run secret exists (previews): links look real but no server accepts them.
PREVIEW_KEY = derive_key(b"tailorcast-preview-only-not-a-secret", "pay-link")


def pay_link(template: Template, ctx: Mapping[str, Any], pay_key: bytes | None = None, token: str = "") -> str:
    p = template.payment
    if not p.link:
        return ""
    base = expressions.evaluate_text(p.link, ctx).strip()
    ref = str(ctx.get(p.reference_field) or "")
    if p.provider == "signed":
        link = SignedLink(
            ref=ref,
            amount_cents=to_cents(ctx[p.amount_field]),
            expires=expiry(ctx[p.due_field], p.valid_days),
            currency=p.currency_of(ctx),
            token=token,
        )
        return sign_link(base, link, pay_key or PREVIEW_KEY)
    if p.provider == "stripe":
        email = ctx.get("email") if p.prefill_email else None
        return stripe_payment_link(base, ref, email, sanitize=True)
    return base
