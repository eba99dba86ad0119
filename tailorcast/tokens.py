"""Unguessable, stable names for a customer's published folder."""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters


def customer_token(secret: bytes, template: str, run_id: str, customer_id: str) -> str:
    """HMAC-SHA256 of (template, run, customer) under the server secret, URL-safe.

    The fields are length-prefixed so that no two different triples collide.
    """
    msg = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in (template, run_id, customer_id))
    digest = hmac.new(secret, b"tailorcast/customer-token/v1\0" + msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode().rstrip("=")
