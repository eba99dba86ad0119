"""Review links: a signed, expiring URL that shows one version's preview to someone without an account.

``<version id>.<expiry unix seconds>.<signature>``, the signature an HMAC-SHA256 of both under the
studio's review key (base64url). It grants reading that version's stills and scene list, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_DIGITS = re.compile(r"[0-9]{1,20}")  # used with fullmatch: "$" would accept a trailing newline


def _sign(secret: bytes, version_id: int, expires: int) -> str:
    mac = hmac.new(secret, f"tailorcast/review/v1\n{version_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_link(secret: bytes, version_id: int, expires: int) -> str:
    return f"{version_id}.{expires}.{_sign(secret, version_id, expires)}"


def read_link(secret: bytes, token: str, now: float) -> tuple[int | None, str]:
    """(version id, "") for a good link, else (None, why): ``malformed``, ``signature`` or ``expired``."""
    parts = token.split(".")
    # ASCII digits only: str.isdigit() takes '²', which int() refuses (a 500 for anyone without an account)
    if len(parts) != 3 or not _DIGITS.fullmatch(parts[0]) or not _DIGITS.fullmatch(parts[1]) or len(token) > 120:
        return None, "malformed"
    version_id, expires = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2], _sign(secret, version_id, expires)):
        return None, "signature"
    if now >= expires:
        return None, "expired"
    return version_id, ""
