"""Signed payment-page links: HMAC-SHA256 over reference, amount, currency, expiry and customer token.

Any payment page can honour them; none of the terms can be altered without the
key. Keys are derived per purpose from the server secret (:func:`derive_key`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .. import keys
from ..errors import LinkRejected, PaymentError
from .amounts import DEFAULT_CURRENCY, cents_to_decimal, check_cents, check_currency, check_ref

LINK_PARAMS = ("ref", "amount", "cur", "exp", "t", "sig")
_DIGITS = re.compile(r"[1-9][0-9]{0,11}")  # canonical: no sign, no leading zero, no decimals
_SIG = re.compile(r"[A-Za-z0-9_-]{43}")


def derive_key(master: bytes, purpose: str) -> bytes:
    """One secret per purpose from the server secret, so a leaked link key cannot sign webhooks."""
    if len(master) < 32:
        raise PaymentError("secret", f"the master secret is {len(master)} bytes; it needs at least 32")
    return hmac.new(master, b"tailorcast/key/v1\0" + purpose.encode(), hashlib.sha256).digest()


def expiry(due: dt.date, valid_days: int) -> int:
    """End of day UTC, ``valid_days`` after the due date: no clock, so reruns give the same link."""
    end = dt.datetime.combine(due + dt.timedelta(days=valid_days), dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
    return int(end.timestamp())


def is_token(value: object) -> bool:
    """A well-formed customer token (the same rule as bucket keys)."""
    if not isinstance(value, str):
        return False
    try:
        keys.customer_prefix(value)
    except ValueError:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class SignedLink:
    """What a payment page is told to charge, and until when; ``token`` ties it to one customer page."""

    ref: str
    amount_cents: int
    expires: int  # unix seconds; the link is refused from this second on
    currency: str = DEFAULT_CURRENCY
    token: str = ""

    def __post_init__(self) -> None:
        check_ref(self.ref)
        check_cents(self.amount_cents)
        check_currency(self.currency)
        if isinstance(self.expires, bool) or not isinstance(self.expires, int) or not 0 < self.expires < 10**11:
            raise PaymentError("exp", f"expiry {self.expires!r} must be unix seconds (an integer like 1767225600)")
        if self.token and not is_token(self.token):
            raise PaymentError("t", "not a customer token (22-64 URL-safe base64 characters)")

    @property
    def amount(self) -> Decimal:
        return cents_to_decimal(self.amount_cents)

    def message(self) -> bytes:
        """The signed bytes: no field may contain a newline, so the encoding is unambiguous."""
        fields = (self.ref, str(self.amount_cents), self.currency, str(self.expires), self.token)
        return ("tailorcast/pay-link/v1\n" + "\n".join(fields)).encode()

    def signature(self, secret: bytes) -> str:
        return _b64(hmac.new(secret, self.message(), hashlib.sha256).digest())

    def params(self, secret: bytes) -> dict[str, str]:
        """Query parameters (or hidden form fields) that carry this link, signature last."""
        out = {"ref": self.ref, "amount": str(self.amount_cents), "cur": self.currency, "exp": str(self.expires)}
        if self.token:
            out["t"] = self.token
        out["sig"] = self.signature(secret)
        return out


def _check_base_url(base_url: str) -> tuple:
    parts = urlsplit(base_url)
    absolute = parts.scheme in ("https", "http") and parts.netloc
    relative = not parts.scheme and not parts.netloc and parts.path.startswith("/")
    if not (absolute or relative):
        raise PaymentError("base_url", f"{base_url!r} is not an http(s) URL or a path starting with '/'; write it like 'https://pay.example.com/checkout'")
    taken = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)} & set(LINK_PARAMS))
    if taken:
        raise PaymentError("base_url", f"{base_url!r} already has the parameter(s) {', '.join(taken)}, which the signed link adds; remove them from the URL")
    return parts


def sign_link(base_url: str, link: SignedLink, secret: bytes) -> str:
    """``base_url`` plus ``ref, amount (cents), cur, exp, [t], sig``; the page's own parameters are kept."""
    parts = _check_base_url(base_url)
    ours = urlencode(link.params(secret), quote_via=quote, safe="")
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _link_fields(source: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(source, str):
        pairs = parse_qsl(urlsplit(source).query, keep_blank_values=True)
        seen: dict[str, str] = {}
        for k, v in pairs:
            if k in LINK_PARAMS and k in seen:
                raise LinkRejected("malformed", k, "the parameter appears more than once")
            seen[k] = v
        return seen
    return {k: v for k, v in source.items()}


def verify_signed_link(source: str | Mapping[str, str], secret: bytes, now: float) -> SignedLink:
    """The link's terms if its signature holds and it has not expired; :class:`LinkRejected` otherwise.

    ``source`` is the full URL or its parameters. The signature is checked before
    the expiry, in constant time, so a changed amount always reads as tampering.
    """
    fields = _link_fields(source)
    for name in ("ref", "amount", "cur", "exp", "sig"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise LinkRejected("malformed", name, "missing; the link must carry ref, amount, cur, exp and sig")
    for name in ("amount", "exp"):
        if not _DIGITS.fullmatch(fields[name]):
            raise LinkRejected("malformed", name, f"{fields[name]!r} is not a whole positive number in canonical form")
    if not _SIG.fullmatch(fields["sig"]):
        raise LinkRejected("malformed", "sig", "not a signature (43 URL-safe base64 characters)")
    try:
        link = SignedLink(fields["ref"], int(fields["amount"]), int(fields["exp"]), fields["cur"], fields.get("t") or "")
    except PaymentError as exc:
        raise LinkRejected("malformed", exc.field, exc.message) from None
    if not hmac.compare_digest(link.signature(secret).encode(), fields["sig"].encode()):
        raise LinkRejected("signature", "sig", "does not match the link's terms: the link was altered or signed with another key")
    if now >= link.expires:
        raise LinkRejected("expired", "exp", f"the link expired {int(now - link.expires)} s ago; send the customer a new one")
    return link
