"""Payment-webhook signatures (``Tailorcast-Signature: t=…,v1=…``, Stripe-style) and their replay window."""

from __future__ import annotations

import hashlib
import hmac
import re

from ..errors import WebhookRejected

SIGNATURE_HEADER = "Tailorcast-Signature"
DEFAULT_TOLERANCE = 300
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _webhook_mac(body: bytes, secret: bytes, timestamp: int) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, secret: bytes, timestamp: int) -> str:
    """The ``Tailorcast-Signature`` header value a provider (or a test) sends with ``body``."""
    return f"t={int(timestamp)},v1={_webhook_mac(body, secret, int(timestamp))}"


def verify_webhook(body: bytes, header: str | None, secret: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE) -> int:
    """The delivery's timestamp if one ``v1`` matches HMAC-SHA256(secret, "<t>.<raw body>") and ``t`` is within ``tolerance`` s of ``now``.

    Several ``v1`` entries are allowed (secret rotation); unknown schemes are ignored, as Stripe does.
    """
    if not header:
        raise WebhookRejected("missing", f"no {SIGNATURE_HEADER} header; the provider must sign every delivery")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookRejected("malformed", f"{SIGNATURE_HEADER} must look like 't=<unix>,v1=<hex>'")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit() or len(value) > 11:
                raise WebhookRejected("malformed", "'t' must appear once, as unix seconds")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookRejected("malformed", f"{SIGNATURE_HEADER} needs both t=<unix> and v1=<hex>")
    expected = _webhook_mac(body, secret, timestamp).encode()
    if not any(_HEX64.fullmatch(c) and hmac.compare_digest(expected, c.encode()) for c in candidates):
        raise WebhookRejected("signature", "no v1 signature matches the body; check the webhook secret and that the raw body is signed unchanged")
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected("stale", f"signed {int(now - timestamp)} s from now, outside the {tolerance} s window; replays are refused (check the server clock)")
    return timestamp
