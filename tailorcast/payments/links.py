"""Ways to ask for money, and proof of who asked: pure functions, no clock, no IO.

- signed payment-page links (any payment page; HMAC-SHA256 over reference,
  amount, currency, expiry and customer token, so none of them can be altered);
- Stripe Payment Links with ``client_reference_id`` and a prefilled e-mail;
- pagoPA notice QR payloads (``PAGOPA|002|…``);
- SEPA EPC QR payloads (``BCD`` version 002) with IBAN/BIC checks;
- payment-webhook signatures (``Tailorcast-Signature: t=…,v1=…``, Stripe-style).

Amounts are integer minor units (cents) or ``Decimal``, never floats. Anything
that depends on time takes ``now`` (unix seconds) as an argument. Errors::

    TailorcastError                 (tailorcast.errors)
    └── PaymentError                a payment value is unusable: field, problem, fix
        ├── LinkRejected            a signed link must not be honoured (reason: malformed | signature | expired)
        └── WebhookRejected         a webhook must not be trusted (reason: missing | malformed | signature | stale)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from . import keys
from .errors import LinkRejected, PaymentError, WebhookRejected


# ---------------------------------------------------------------- amounts and keys

MAX_CENTS = 10**12 - 1  # 9,999,999,999.99: beyond any bill, below every provider's limit
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def to_cents(amount: Decimal | str, field: str = "amount") -> int:
    """``Decimal('128.48')`` or ``'128.48'`` → ``12848``; refuses floats, fractions of a cent and ≤ 0."""
    if isinstance(amount, (float, bool)) or not isinstance(amount, (Decimal, str)):
        raise PaymentError(field, f"pass a Decimal or a decimal string like '128.48', not {type(amount).__name__}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise PaymentError(field, f"{amount!r} is not a decimal number; write it like '128.48'") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise PaymentError(field, f"{amount!r} has fractions of a cent; round it to 2 decimals first")
    cents = int(value * 100)
    check_cents(cents, field)
    return cents


def check_cents(cents: int, field: str = "amount") -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise PaymentError(field, f"must be an integer number of cents, not {type(cents).__name__}")
    if not 1 <= cents <= MAX_CENTS:
        raise PaymentError(field, f"{cents} cents is out of range; it must be between 1 and {MAX_CENTS}")
    return cents


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def check_ref(ref: str, field: str = "ref") -> str:
    """Invoice references go into URLs, logs and QR codes: letters, digits and ``._/-`` only."""
    if not isinstance(ref, str) or not _REF.match(ref):
        raise PaymentError(field, f"invoice reference {ref!r} is not allowed: use 1-64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit")
    return ref


def is_token(value: object) -> bool:
    """A well-formed customer token (the same rule as bucket keys)."""
    if not isinstance(value, str):
        return False
    try:
        keys.customer_prefix(value)
    except ValueError:
        return False
    return True


def derive_key(master: bytes, purpose: str) -> bytes:
    """One secret per purpose from the server secret, so a leaked link key cannot sign webhooks."""
    if len(master) < 32:
        raise PaymentError("secret", f"the master secret is {len(master)} bytes; it needs at least 32")
    return hmac.new(master, b"tailorcast/key/v1\0" + purpose.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ---------------------------------------------------------------- signed payment-page links

LINK_PARAMS = ("ref", "amount", "cur", "exp", "t", "sig")
_DIGITS = re.compile(r"^[1-9][0-9]{0,11}$")  # canonical: no sign, no leading zero, no decimals
_SIG = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class SignedLink:
    """What a payment page is told to charge, and until when; ``token`` ties it to one customer page."""

    ref: str
    amount_cents: int
    expires: int  # unix seconds; the link is refused from this second on
    currency: str = "EUR"
    token: str = ""

    def __post_init__(self) -> None:
        check_ref(self.ref)
        check_cents(self.amount_cents)
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            raise PaymentError("cur", f"currency {self.currency!r} is not an ISO 4217 code like 'EUR'")
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
        if not _DIGITS.match(fields[name]):
            raise LinkRejected("malformed", name, f"{fields[name]!r} is not a whole positive number in canonical form")
    if not _SIG.match(fields["sig"]):
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


# ---------------------------------------------------------------- Stripe Payment Links

STRIPE_BASE = "https://buy.stripe.com/"
_STRIPE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CLIENT_REF = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


def client_reference_id(value: str, *, sanitize: bool = False) -> str:
    """Stripe accepts only letters, digits, '-' and '_', up to 200 characters.

    With ``sanitize`` every run of other characters becomes ``_`` (beware: two
    references may then collide); without it such a value is an error.
    """
    if not isinstance(value, str):
        raise PaymentError("client_reference_id", f"must be text, not {type(value).__name__}")
    if sanitize:
        value = re.sub(r"[^A-Za-z0-9_-]+", "_", value)
    if not _CLIENT_REF.match(value):
        bad = sorted(set(re.sub(r"[A-Za-z0-9_-]", "", value)))
        why = f"has {len(value)} characters (1-200 allowed)" if not 1 <= len(value) <= 200 else f"contains {''.join(bad)!r}"
        raise PaymentError("client_reference_id", f"{value!r} {why}; Stripe allows only letters, digits, '-' and '_' (pass sanitize=True to replace the others with '_')")
    return value


def stripe_payment_link(link: str, reference: str, email: str | None = None, *, sanitize: bool = False) -> str:
    """``https://buy.stripe.com/<id>?client_reference_id=…&prefilled_email=…`` (properly URL-encoded).

    ``link`` is the Payment Link's id or its full ``https://buy.stripe.com/<id>`` URL.
    """
    link_id = link[len(STRIPE_BASE):] if isinstance(link, str) and link.startswith(STRIPE_BASE) else link
    if not isinstance(link_id, str) or not _STRIPE_ID.match(link_id):
        raise PaymentError("stripe.link", f"{link!r} is not a Stripe Payment Link; copy it from the Dashboard, like 'https://buy.stripe.com/test_4gw3cu'")
    params = {"client_reference_id": client_reference_id(reference, sanitize=sanitize)}
    if email:
        if len(email) > 254 or not _EMAIL.match(email):
            raise PaymentError("prefilled_email", "not a plain e-mail address like 'name@example.com'; leave it out rather than send a broken one")
        params["prefilled_email"] = email
    return STRIPE_BASE + link_id + "?" + urlencode(params, quote_via=quote, safe="")


# ---------------------------------------------------------------- pagoPA notice QR

_PAGOPA_MAX_CENTS = 99_999_999_999  # 11 digits


@dataclass(frozen=True)
class PagoPaNotice:
    """An Italian pagoPA payment notice: what its QR code says (spec: 'Codice QR', avviso 3.0)."""

    notice_code: str  # 18 digits: aux digit (0-3) + application/segregation code + IUV
    creditor_fiscal_code: str  # 11 digits: the creditor body's codice fiscale
    amount_cents: int

    def __post_init__(self) -> None:
        if not isinstance(self.notice_code, str) or not re.fullmatch(r"[0-3][0-9]{17}", self.notice_code):
            raise PaymentError("notice_code", f"{self.notice_code!r} must be 18 digits starting with the aux digit 0-3 (the 'codice avviso' printed on the notice, without spaces)")
        fc = self.creditor_fiscal_code
        if not isinstance(fc, str) or not re.fullmatch(r"[0-9]{11}", fc):
            raise PaymentError("creditor_fiscal_code", f"{fc!r} must be the creditor's 11-digit codice fiscale")
        if _luhn_it(fc[:10]) != int(fc[10]):
            raise PaymentError("creditor_fiscal_code", f"{fc!r}: the check digit should be {_luhn_it(fc[:10])}; look for a typo")
        check_cents(self.amount_cents)
        if self.amount_cents > _PAGOPA_MAX_CENTS:
            raise PaymentError("amount", f"{self.amount_cents} cents has more than 11 digits, the most pagoPA allows")

    def payload(self) -> str:
        return f"PAGOPA|002|{self.notice_code}|{self.creditor_fiscal_code}|{self.amount_cents:02d}"


def _luhn_it(digits: str) -> int:
    """Check digit of an Italian numeric fiscal code / partita IVA (Luhn over the first 10 digits)."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def pagopa_payload(notice_code: str, creditor_fiscal_code: str, amount_cents: int) -> str:
    """``PAGOPA|002|<18-digit notice code>|<11-digit creditor fiscal code>|<amount in cents>``.

    Spaces in the notice code (as printed in groups) are removed.
    """
    code = notice_code.replace(" ", "") if isinstance(notice_code, str) else notice_code
    return PagoPaNotice(code, creditor_fiscal_code, amount_cents).payload()


def parse_pagopa_payload(text: str) -> PagoPaNotice:
    parts = text.split("|") if isinstance(text, str) else []
    if len(parts) != 5 or parts[0] != "PAGOPA" or parts[1] != "002":
        raise PaymentError("pagopa", "not a pagoPA QR payload; expected 'PAGOPA|002|<notice>|<fiscal code>|<cents>'")
    if not re.fullmatch(r"[0-9]{2,11}", parts[4]):
        raise PaymentError("amount", f"{parts[4]!r} must be 2-11 digits of euro cents")
    return PagoPaNotice(parts[2], parts[3], int(parts[4]))


# ---------------------------------------------------------------- SEPA EPC QR (BCD 002)

_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
EPC_MAX_BYTES = 331


def check_iban(iban: str) -> str:
    """Normalised IBAN (no spaces, upper case) if its ISO 13616 mod-97 check holds."""
    value = re.sub(r"\s+", "", iban or "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", value):
        raise PaymentError("iban", f"{iban!r} is not an IBAN (country code, 2 check digits, up to 30 letters or digits)")
    number = int("".join(str(int(c, 36)) for c in value[4:] + value[:4]))
    if number % 97 != 1:
        raise PaymentError("iban", f"{iban!r}: the check digits do not match; look for a typo")
    return value


def _check_rf(reference: str) -> str:
    value = reference.replace(" ", "").upper()
    if not re.fullmatch(r"RF[0-9]{2}[A-Z0-9]{1,21}", value) or int("".join(str(int(c, 36)) for c in value[4:] + value[:4])) % 97 != 1:
        raise PaymentError("reference", f"{reference!r} is not an ISO 11649 creditor reference (RF + 2 check digits); use text= for a free-form reference")
    return value


def epc_payload(name: str, iban: str, amount: Decimal | str, *, text: str | None = None, reference: str | None = None,
                bic: str | None = None, purpose: str | None = None) -> str:
    """The EPC069-12 'BCD' 002 SCT payload (UTF-8), as segno's ``make_epc_qr`` encodes it.

    Either ``text`` (free remittance, ≤ 140) or ``reference`` (ISO 11649 RF…, ≤ 35), not both.
    """
    name = (name or "").strip()
    if not 0 < len(name) <= 70:
        raise PaymentError("name", f"the beneficiary name must be 1-70 characters, got {len(name)}")
    iban = check_iban(iban)
    bic = (bic or "").strip().upper()
    if bic and not _BIC.match(bic):
        raise PaymentError("bic", f"{bic!r} is not a BIC (8 or 11 letters and digits, like 'BPMOIT22XXX')")
    cents = to_cents(amount)
    if cents > 99_999_999_999:
        raise PaymentError("amount", "EPC QR codes allow at most 999999999.99")
    if purpose and not re.fullmatch(r"[A-Z0-9]{4}", purpose):
        raise PaymentError("purpose", f"{purpose!r} is not a 4-character SEPA purpose code")
    text = (text or "").rstrip()
    reference = _check_rf(reference) if reference else ""
    if bool(text) == bool(reference):
        raise PaymentError("text", "give exactly one of text (free remittance information) or reference (an RF creditor reference)")
    if len(text) > 140:
        raise PaymentError("text", f"remittance text is {len(text)} characters; the most is 140")
    amount_text = f"EUR{cents_to_decimal(cents):.2f}".rstrip("0").rstrip(".")
    lines = ["BCD", "002", "1", "SCT", bic, name, iban, amount_text, purpose or "", reference]
    if text:
        lines.append(text)
    payload = "\n".join(lines)
    if len(payload.encode()) > EPC_MAX_BYTES:
        raise PaymentError("epc", f"the payload is {len(payload.encode())} bytes; EPC QR codes allow {EPC_MAX_BYTES}; shorten the name or text")
    return payload


# ---------------------------------------------------------------- webhook signatures

SIGNATURE_HEADER = "Tailorcast-Signature"
DEFAULT_TOLERANCE = 300
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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
    if not any(_HEX64.match(c) and hmac.compare_digest(expected, c.encode()) for c in candidates):
        raise WebhookRejected("signature", "no v1 signature matches the body; check the webhook secret and that the raw body is signed unchanged")
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected("stale", f"signed {int(now - timestamp)} s from now, outside the {tolerance} s window; replays are refused (check the server clock)")
    return timestamp
