"""Payment links and payloads: exact formats, tampering and expiry refused, QR codes that decode to the payload."""

from __future__ import annotations

import io
import pickle
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from PIL import Image

from helpers.pictures import decode_qr
from microsite.payment import epc_qr, pagopa_qr
from tailorcast.errors import LinkRejected, PaymentError, WebhookRejected
from tailorcast.payments.amounts import to_cents
from tailorcast.payments.epc import epc_payload
from tailorcast.payments.links import SignedLink, derive_key, expiry, sign_link, verify_signed_link
from tailorcast.payments.pagopa import pagopa_payload, parse_pagopa_payload
from tailorcast.payments.stripe import client_reference_id, stripe_payment_link
from tailorcast.payments.webhooks import sign_webhook, verify_webhook

SECRET = b"link-secret-" + b"k" * 32
TOKEN = "q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u"
NOW = 1_790_000_000
IBAN = "IT60X0542811101000000123456"


def _decode_qr(qr: segno.QRCode) -> str:
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=6)
    results = decode_qr(Image.open(io.BytesIO(buf.getvalue())))
    assert len(results) == 1, "exactly one QR code should be found"
    return results[0]


def _link(**over) -> SignedLink:
    values = dict(ref="2026-10-000001", amount_cents=12848, expires=NOW + 3600, currency="EUR", token=TOKEN)
    values.update(over)
    return SignedLink(**values)


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(changes)
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


# ---------------------------------------------------------------- amounts

def test_to_cents_takes_decimals_and_strings_and_refuses_floats_and_fractions_of_a_cent():
    assert to_cents(Decimal("128.48")) == 12848
    assert to_cents("0.01") == 1
    assert to_cents("100") == 10000
    for bad in (128.48, "12.345", "0", "-5.00", "NaN", "abc"):
        with pytest.raises(PaymentError, match="amount"):
            to_cents(bad)


# ---------------------------------------------------------------- signed links

def test_signed_link_round_trips_and_keeps_the_pages_own_parameters():
    url = sign_link("https://pay.example.com/checkout?lang=it", _link(), SECRET)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://pay.example.com/checkout?lang=it&ref=2026-10-000001&amount=12848&cur=EUR&exp=")
    assert query["lang"] == ["it"] and query["t"] == [TOKEN] and len(query["sig"][0]) == 43
    assert verify_signed_link(url, SECRET, NOW) == _link()
    assert verify_signed_link(url, SECRET, NOW).amount == Decimal("128.48")


def test_signed_link_is_the_same_for_the_same_terms():
    assert sign_link("/demo/checkout", _link(), SECRET) == sign_link("/demo/checkout", _link(), SECRET)


@pytest.mark.parametrize("changes", [{"amount": "1"}, {"amount": "12849"}, {"ref": "2026-10-000002"}, {"cur": "USD"},
                                     {"t": "x" * 32}, {"exp": str(NOW + 999_999)}])
def test_signed_link_rejects_any_changed_term(changes):
    url = sign_link("/demo/checkout", _link(), SECRET)
    with pytest.raises(LinkRejected) as info:
        verify_signed_link(_tamper(url, **changes), SECRET, NOW)
    assert info.value.reason == "signature"


def test_signed_link_rejects_a_changed_amount_even_when_expired_too():
    url = sign_link("/demo/checkout", _link(), SECRET)
    with pytest.raises(LinkRejected) as info:
        verify_signed_link(_tamper(url, amount="100"), SECRET, NOW + 10**6)
    assert info.value.reason == "signature"


def test_signed_link_rejects_an_expired_link_from_its_expiry_second_on():
    url = sign_link("/demo/checkout", _link(), SECRET)
    assert verify_signed_link(url, SECRET, NOW + 3599.9).ref == "2026-10-000001"
    for later in (NOW + 3600, NOW + 86400):
        with pytest.raises(LinkRejected, match="expired") as info:
            verify_signed_link(url, SECRET, later)
        assert info.value.reason == "expired"


def test_signed_link_rejects_another_key():
    url = sign_link("/demo/checkout", _link(), SECRET)
    with pytest.raises(LinkRejected) as info:
        verify_signed_link(url, b"other-secret-" + b"k" * 32, NOW)
    assert info.value.reason == "signature"


@pytest.mark.parametrize("query, field", [
    ("ref=A&amount=100&cur=EUR&exp=1&sig=", "sig"),
    ("ref=A&cur=EUR&exp=1&sig=" + "a" * 43, "amount"),
    ("ref=A&amount=0100&cur=EUR&exp=1&sig=" + "a" * 43, "amount"),
    ("ref=A&amount=1.00&cur=EUR&exp=1&sig=" + "a" * 43, "amount"),
    ("ref=A&amount=100&amount=1&cur=EUR&exp=1&sig=" + "a" * 43, "amount"),
    ("ref=A%0Ab&amount=100&cur=EUR&exp=1&sig=" + "a" * 43, "ref"),
    ("ref=A&amount=100&cur=EUR&exp=1&t=short&sig=" + "a" * 43, "t"),
])
def test_signed_link_rejects_malformed_links_naming_the_field(query, field):
    with pytest.raises(LinkRejected) as info:
        verify_signed_link("/demo/checkout?" + query, SECRET, NOW)
    assert (info.value.reason, info.value.field) == ("malformed", field)


def test_signed_link_terms_are_validated_when_made():
    with pytest.raises(PaymentError, match="letters, digits"):
        _link(ref="INV 12")
    with pytest.raises(PaymentError, match="ISO 4217"):
        _link(currency="eur")
    with pytest.raises(PaymentError, match="between 1 and"):
        _link(amount_cents=0)
    with pytest.raises(PaymentError, match="already has"):
        sign_link("https://pay.example.com/?amount=1", _link(), SECRET)
    with pytest.raises(PaymentError, match="http"):
        sign_link("javascript:alert(1)", _link(), SECRET)


def test_signed_link_survives_a_qr_code():
    url = sign_link("https://pay.example.com/checkout", _link(), SECRET)
    assert verify_signed_link(_decode_qr(segno.make(url, error="m")), SECRET, NOW) == _link()


def test_derived_keys_differ_by_purpose():
    master = b"m" * 40
    assert derive_key(master, "pay-link") != derive_key(master, "webhook")
    assert len(derive_key(master, "pay-link")) == 32
    with pytest.raises(PaymentError, match="at least 32"):
        derive_key(b"short", "pay-link")


# ---------------------------------------------------------------- Stripe Payment Links

def test_stripe_link_carries_an_encoded_reference_and_email():
    url = stripe_payment_link("https://buy.stripe.com/test_4gw3cu", "2026-10-000001", "giulia+bills@example.com")
    assert url == "https://buy.stripe.com/test_4gw3cu?client_reference_id=2026-10-000001&prefilled_email=giulia%2Bbills%40example.com"
    assert stripe_payment_link("test_4gw3cu", "INV_1") == "https://buy.stripe.com/test_4gw3cu?client_reference_id=INV_1"


def test_stripe_client_reference_id_is_validated_or_sanitised():
    with pytest.raises(PaymentError, match="sanitize=True") as info:
        client_reference_id("2026/10 000001")
    assert "contains ' /'" in str(info.value)
    assert client_reference_id("2026/10 000001", sanitize=True) == "2026_10_000001"
    assert client_reference_id("a" * 200) == "a" * 200
    with pytest.raises(PaymentError, match="201 characters"):
        client_reference_id("a" * 201)
    with pytest.raises(PaymentError, match="0 characters"):
        client_reference_id("", sanitize=True)


def test_stripe_link_refuses_other_hosts_and_broken_emails():
    with pytest.raises(PaymentError, match="Stripe Payment Link"):
        stripe_payment_link("https://evil.example/x", "INV1")
    with pytest.raises(PaymentError, match="e-mail"):
        stripe_payment_link("test_4gw3cu", "INV1", "not an email")


# ---------------------------------------------------------------- pagoPA

def test_pagopa_payload_has_the_exact_format_and_decodes_from_its_qr():
    payload = pagopa_payload("3012 3456 7890 1234 56", "01199250158", 12848)
    assert payload == "PAGOPA|002|301234567890123456|01199250158|12848"
    qr = pagopa_qr(pagopa_payload("301234567890123456", "01199250158", 12848))
    assert qr.designator == "4-M"
    assert _decode_qr(qr) == payload
    assert parse_pagopa_payload(payload).amount_cents == 12848


def test_pagopa_amount_has_at_least_two_digits():
    assert pagopa_payload("001234567890123456", "00000000000", 5).endswith("|05")


@pytest.mark.parametrize("notice, fiscal, cents, field", [
    ("30123456789012345", "01199250158", 100, "notice_code"),   # 17 digits
    ("401234567890123456", "01199250158", 100, "notice_code"),  # aux digit 4
    ("30123456789012345A", "01199250158", 100, "notice_code"),
    ("301234567890123456", "0119925015", 100, "creditor_fiscal_code"),
    ("301234567890123456", "01199250159", 100, "creditor_fiscal_code"),  # wrong check digit
    ("301234567890123456", "01199250158", 0, "amount"),
    ("301234567890123456", "01199250158", 10**11, "amount"),
])
def test_pagopa_payload_refuses_bad_fields(notice, fiscal, cents, field):
    with pytest.raises(PaymentError) as info:
        pagopa_payload(notice, fiscal, cents)
    assert info.value.field == field


# ---------------------------------------------------------------- SEPA EPC

def test_epc_payload_matches_what_the_page_qr_encodes():
    payload = epc_payload("Lumen Energy S.p.A.", IBAN, Decimal("128.48"), text="2026-10-000001", bic="BPMOIT22XXX")
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "BPMOIT22XXX", "Lumen Energy S.p.A.", IBAN, "EUR128.48", "", "", "2026-10-000001"]
    assert _decode_qr(epc_qr(payload)) == payload


def test_epc_payload_with_a_creditor_reference():
    payload = epc_payload("Lumen", "IT60 X054 2811 1010 0000 0123 456", "10.50", reference="RF18 5390 0754 7034")
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "", "Lumen", IBAN, "EUR10.5", "", "RF18539007547034"]
    assert _decode_qr(epc_qr(payload)) == payload


@pytest.mark.parametrize("kwargs, field", [
    (dict(iban="IT61X0542811101000000123456", text="x"), "iban"),
    (dict(iban=IBAN, text="x", bic="BPMO"), "bic"),
    (dict(iban=IBAN, text="x", reference="RF18539007547034"), "text"),
    (dict(iban=IBAN), "text"),
    (dict(iban=IBAN, reference="RF00123"), "reference"),
    (dict(iban=IBAN, text="x" * 141), "text"),
])
def test_epc_payload_refuses_bad_fields(kwargs, field):
    with pytest.raises(PaymentError) as info:
        epc_payload("Lumen", amount="1.00", **kwargs)
    assert info.value.field == field


# ---------------------------------------------------------------- webhook signatures

WEBHOOK_SECRET = b"whsec_" + b"w" * 32
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'


def test_webhook_signature_verifies_and_tolerates_rotation():
    header = sign_webhook(BODY, WEBHOOK_SECRET, NOW)
    assert header.startswith(f"t={NOW},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_webhook(BODY, header, WEBHOOK_SECRET, NOW + 10) == NOW
    rotated = sign_webhook(BODY, b"old-" + b"w" * 32, NOW).split(",")[1]
    assert verify_webhook(BODY, f"{header},{rotated},v0=ignored", WEBHOOK_SECRET, NOW) == NOW


@pytest.mark.parametrize("body, header, now, reason", [
    (BODY + b" ", sign_webhook(BODY, WEBHOOK_SECRET, NOW), NOW, "signature"),
    (BODY, sign_webhook(BODY, b"x" * 40, NOW), NOW, "signature"),
    (BODY, sign_webhook(BODY, WEBHOOK_SECRET, NOW), NOW + 301, "stale"),
    (BODY, sign_webhook(BODY, WEBHOOK_SECRET, NOW + 301), NOW, "stale"),
    (BODY, None, NOW, "missing"),
    (BODY, "", NOW, "missing"),
    (BODY, "v1=" + "0" * 64, NOW, "malformed"),
    (BODY, f"t={NOW}", NOW, "malformed"),
    (BODY, f"t={NOW},t={NOW},v1=" + "0" * 64, NOW, "malformed"),
    (BODY, "garbage", NOW, "malformed"),
])
def test_webhook_signature_rejections(body, header, now, reason):
    with pytest.raises(WebhookRejected) as info:
        verify_webhook(body, header, WEBHOOK_SECRET, now)
    assert info.value.reason == reason


def test_payment_errors_survive_pickling():
    for exc in (PaymentError("amount", "bad"), LinkRejected("expired", "exp", "late"), WebhookRejected("stale", "old")):
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc) and str(copy) == str(exc)


# --- the template's payment provider → the customer's pay link (tailorcast/payments/paylink.py) ---------


def _reminder_ctx(**kw):
    from helpers.samples import ROOT
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row
    from tailorcast.spec.load import load_template

    tpl = load_template(ROOT / "templates" / "payment-reminder")
    row = dict(customer_id="R1", first_name="Ann", email="ann@example.com", locale="en", invoice_id="2026-09-000001",
               amount_due="189.40", due_date="2026-10-15", days_overdue="12")
    return tpl, customer_context(tpl, validate_row(tpl, 2, row), **kw)


def test_signed_provider_links_verify_with_the_run_key_and_cannot_be_altered():
    import datetime as dt

    key = derive_key(b"x" * 40, "pay-link")
    token = "A" * 32
    tpl, ctx = _reminder_ctx(pay_key=key, token=token)
    url = ctx["pay_link"]
    assert url.startswith("http://127.0.0.1:8000/demo/checkout?ref=2026-09-000001&amount=18940&cur=EUR&exp=")
    link = verify_signed_link(url, key, now=expiry(dt.date(2026, 10, 15), 30) - 1)
    assert (link.ref, link.amount_cents, link.token) == ("2026-09-000001", 18940, token)
    with pytest.raises(LinkRejected):
        verify_signed_link(url.replace("amount=18940", "amount=100"), key, now=0)
    with pytest.raises(LinkRejected):  # 30 days after the due date, end of day UTC
        verify_signed_link(url, key, now=expiry(dt.date(2026, 10, 15), 30))
    _, again = _reminder_ctx(pay_key=key, token=token)
    assert again["pay_link"] == url  # no clock: same inputs, same link


def test_stripe_provider_link(tmp_path):
    from helpers.samples import ROOT, copy_template, edit_file
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row
    from tailorcast.spec.load import load_template

    root = copy_template(ROOT / "templates" / "payment-reminder", tmp_path)
    edit_file(root, "  provider: signed\n  link: \"http://127.0.0.1:8000/demo/checkout\"\n  valid_days: 30",
              "  provider: stripe\n  link: \"https://buy.stripe.com/test_4gw3cu\"\n  prefill_email: true")
    tpl = load_template(root)
    row = dict(customer_id="R1", first_name="Ann", email="ann@example.com", locale="en", invoice_id="2026-09-000001",
               amount_due="189.40", due_date="2026-10-15", days_overdue="12")
    ctx = customer_context(tpl, validate_row(tpl, 2, row))
    assert ctx["pay_link"] == "https://buy.stripe.com/test_4gw3cu?client_reference_id=2026-09-000001&prefilled_email=ann%40example.com"


def test_signed_provider_needs_its_fields(tmp_path):
    from helpers.samples import ROOT, copy_template, edit_file
    from tailorcast.errors import TemplateError
    from tailorcast.spec.load import load_template

    root = copy_template(ROOT / "templates" / "payment-reminder", tmp_path)
    edit_file(root, "  valid_days: 30", "  valid_days: 30\n  amount_field: first_name")
    with pytest.raises(TemplateError) as err:
        load_template(root)
    assert "the signed payment needs a money/decimal field 'first_name' (amount_field)" in str(err.value)
