"""``POST /api/instalments/<token>``: a request for an instalment plan, from a plain form (no JS) or JSON."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Blueprint, jsonify, redirect, request

from .state import public_state
from .validation import ApiError, only, read_json, show, single_values, token as check_token, wants_json

log = logging.getLogger("tailorcast.public")
bp = Blueprint("instalments", __name__)

CONTACT_CHOICES = ("phone", "email")  # a preference, never the number or the address


@bp.post("/api/instalments/<token>")
def instalments(token: str):
    check_token(token, "the URL")
    if request.mimetype == "application/json":
        fields: Mapping[str, Any] = read_json(("application/json",))
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.files:
            raise ApiError(400, "files are not accepted")
        fields = single_values(request.form, "form")
    else:
        raise ApiError(415, f"send a form (application/x-www-form-urlencoded) or JSON, not {request.mimetype or 'no Content-Type'}")
    only(fields, ("instalments", "contact"))
    cfg = public_state().config
    raw = fields.get("instalments")
    count = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 4 else raw
    choices = ", ".join(map(str, cfg.instalment_choices))
    if isinstance(count, bool) or not isinstance(count, int) or count not in cfg.instalment_choices:
        raise ApiError(400, f"'instalments' must be one of {choices}, got {show(raw)}")
    contact = fields.get("contact")
    if contact in (None, ""):
        contact = None
    elif contact not in CONTACT_CHOICES:
        raise ApiError(400, f"'contact' must be 'phone', 'email' or empty, got {show(contact)}")
    state = public_state()
    state.issued(token, "the URL")
    state.limit("instalments", token, cfg.instalments_per_minute)
    state.store.add_instalment_request(token, count, contact, state.now())
    log.info("instalment plan requested (%d instalments)", count)
    if wants_json():
        return jsonify(ok=True, instalments=count, contact=contact), 201
    return redirect(cfg.thanks_url.format(token=token), 303)
