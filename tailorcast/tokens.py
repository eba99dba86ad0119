"""Unguessable, stable names for a customer's published folder, that a server can tell from invented ones.

A token is 24 bytes, 32 URL-safe characters: 16 bytes derived from (template, run, customer) under the
secret, then 8 bytes of an HMAC of those 16 bytes under :func:`token_key`. The public server holds only that
key and checks the tag (:func:`is_issued`) without having seen the run, so it works when the pages sit on a
CDN; an invented token is refused before anything is stored. Guessing a tag takes 2**63 tries on average,
each one a request under the server's rate limits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .payments.links import derive_key

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters
_ID_BYTES = 16  # what names the folder
_TAG_BYTES = TOKEN_BYTES - _ID_BYTES  # what proves a run issued it
TOKEN_CHARS = 32
_ISSUED = re.compile(r"[A-Za-z0-9_-]{32}")


def token_key(secret: bytes) -> bytes:
    """The key that tags tokens: all the public server needs to check them (not the secret itself)."""
    return derive_key(secret, "customer-token")


def customer_token(secret: bytes, template: str, run_id: str, customer_id: str) -> str:
    """HMAC-SHA256 of (template, run, customer) under the secret, tagged, URL-safe.

    The fields are length-prefixed so that no two different triples collide.
    """
    msg = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in (template, run_id, customer_id))
    ident = hmac.new(secret, b"tailorcast/customer-token/v2\0" + msg, hashlib.sha256).digest()[:_ID_BYTES]
    return base64.urlsafe_b64encode(ident + _tag(token_key(secret), ident)).decode()


def is_issued(token: object, key: bytes) -> bool:
    """Whether ``token`` carries a valid tag under ``key`` (:func:`token_key` of the runs' secret); constant time."""
    if not isinstance(token, str) or not _ISSUED.fullmatch(token):
        return False
    raw = base64.urlsafe_b64decode(token)
    return hmac.compare_digest(_tag(key, raw[:_ID_BYTES]), raw[_ID_BYTES:])


def _tag(key: bytes, ident: bytes) -> bytes:
    return hmac.new(key, b"tailorcast/token-tag/v1\0" + ident, hashlib.sha256).digest()[:_TAG_BYTES]
