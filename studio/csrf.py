"""CSRF: one random token per session, required on every request that changes state.

Forms carry it as the hidden field ``csrf_token``; scripts send it in the
``X-CSRF-Token`` header. The session cookie is SameSite=Strict as well.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request without this session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(FIELD)
    sent = request.headers.get(HEADER) or request.form.get(FIELD, "")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        abort(400, description="the form's security token is missing or stale: reload the page and try again")
