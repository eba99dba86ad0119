"""``POST /api/webhooks/payment``: a payment provider reports a payment, signed; each event id is applied once."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from tailorcast.errors import InvoiceConflict, ReplayedDelivery, WebhookRejected
from tailorcast.payments.webhooks import SIGNATURE_HEADER, verify_webhook

from .state import public_state
from .validation import ApiError, parse_json
from .webhook_body import parse_webhook_event

log = logging.getLogger("tailorcast.public")
bp = Blueprint("webhooks", __name__)


@bp.post("/api/webhooks/payment")
def payment_webhook():
    state = public_state()
    cfg = state.config
    raw = request.get_data(cache=True)
    try:
        verify_webhook(raw, request.headers.get(SIGNATURE_HEADER), cfg.webhook_secret, state.clock(), cfg.webhook_tolerance)
    except WebhookRejected as exc:
        log.warning("webhook rejected: %s", exc.reason)
        raise ApiError(400 if exc.reason in ("missing", "malformed") else 403, str(exc)) from None
    event = parse_webhook_event(parse_json(raw, "the signed body"))
    try:
        outcome = state.store.apply_webhook(event.id, event.type, event.payment, state.now())
    except ReplayedDelivery as exc:
        log.warning("webhook %s replayed; refused", event.id)
        raise ApiError(409, str(exc)) from None
    except InvoiceConflict as exc:
        log.warning("webhook %s: the payment's %s differs from the issued invoice; not marked paid", event.id, exc.field)
        raise ApiError(409, str(exc)) from None
    log.info("webhook %s (%s): %s", event.id, event.type, outcome)
    return jsonify(received=True, outcome=outcome)
