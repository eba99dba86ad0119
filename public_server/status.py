"""``GET /api/status/<token>``: is this page's bill paid? And ``GET /api/health``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .state import public_state
from .validation import iso, token as check_token

bp = Blueprint("status", __name__)


@bp.get("/api/health")
def health():
    return jsonify(ok=True)


@bp.get("/api/status/<token>")
def status(token: str):
    check_token(token, "the URL")
    state = public_state()
    state.issued(token, "the URL")
    state.limit("status", token, state.config.status_per_minute)
    st = state.store.status(token)
    return jsonify({"paid": True, "paid_at": iso(st.paid_at)} if st.paid else {"paid": False})
