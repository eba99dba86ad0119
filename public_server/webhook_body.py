"""A webhook delivery's JSON body, checked field by field once its signature has been verified.

    {"id": "evt_…", "type": "payment.succeeded", "data": {"ref", "amount" (cents), "currency", "token"?}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from store.store import Payment
from tailorcast.errors import PaymentError
from tailorcast.payments.amounts import check_cents, check_currency, check_ref

from .validation import ApiError, token

PAID = "payment.succeeded"  # the one type that marks an invoice paid; others are recorded and ignored
_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    payment: Payment | None  # only for PAID


def parse_webhook_event(body: Any) -> WebhookEvent:
    """The delivery, or :class:`ApiError` 400 naming the field to fix."""
    if not isinstance(body, dict):
        raise ApiError(400, "the webhook body must be a JSON object")
    event_id, event_type = body.get("id"), body.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise ApiError(400, "'id' must be the provider's event id (1-128 letters, digits, '_', '.', ':' or '-')")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise ApiError(400, "'type' must be an event type like 'payment.succeeded'")
    if event_type != PAID:
        return WebhookEvent(event_id, event_type, None)
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "a payment.succeeded event needs 'data': {\"ref\", \"amount\" (cents), \"currency\", \"token\"}")
    page = data.get("token") or ""
    try:
        ref = check_ref(data.get("ref"), "data.ref")
        amount = check_cents(data.get("amount"), "data.amount")
        currency = check_currency(data.get("currency"), "data.currency")
    except PaymentError as exc:
        raise ApiError(400, str(exc)) from None
    if page:
        token(page, "'data.token'")
    return WebhookEvent(event_id, event_type, Payment(ref, amount, currency, page))
