"""The public server: events, paid status, instalment requests, demo checkout and webhooks, as a browser or provider sees them.

Every test that touches the database runs on SQLite and, marked e2e, on the session's
throw-away PostgreSQL (the ``database_url`` fixture in conftest.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import urllib.error
import urllib.request
from contextlib import closing

import pytest
from werkzeug.test import Client

from helpers.web import public_store, serve
from public_server.app import create_public_app
from public_server.config import PublicConfig, public_config
from public_server.events import EVENT_TYPES, SCENE_FIELD
from public_server.static import create_static_app, same_origin
from store.store import Payment
from tailorcast.errors import ConfigError
from tailorcast.payments.links import SignedLink, sign_link
from tailorcast.payments.webhooks import sign_webhook
from tailorcast.tokens import customer_token, token_key

RUN_SECRET = b"r" * 32  # the runs' TAILORCAST_SECRET: the server accepts only the tokens it tags
TOKEN = customer_token(RUN_SECRET, "bill-explainer", "run-1", "CUST-00001")
OTHER = customer_token(RUN_SECRET, "bill-explainer", "run-1", "CUST-00002")
START = 1_790_000_080.0  # 40 s into a one-minute rate-limit window
LINK_SECRET = b"l" * 32
WEBHOOK_SECRET = b"whsec_" + b"w" * 32


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _config(database_url: str, **over) -> PublicConfig:
    values = dict(database_url=database_url, link_secret=LINK_SECRET, webhook_secret=WEBHOOK_SECRET, token_key=token_key(RUN_SECRET),
                  demo_checkout=True)
    values.update(over)
    return PublicConfig(**values)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(database_url, clock):
    app = create_public_app(_config(database_url), clock=clock)
    yield app
    app.extensions["tailorcast.public"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["tailorcast.public"].store


def _event(client, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/api/events", data=data, content_type=content_type)


def _webhook(client, body: dict | bytes, at: float, secret: bytes = WEBHOOK_SECRET):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/webhooks/payment", data=raw, content_type="application/json",
                       headers={"Tailorcast-Signature": sign_webhook(raw, secret, int(at))})


def _paid_event(event_id="evt_1", amount=12848, token=TOKEN, ref="2026-10-000001"):
    data = {"ref": ref, "amount": amount, "currency": "EUR"}
    if token:
        data["token"] = token
    return {"id": event_id, "type": "payment.succeeded", "data": data}


def _link(**over) -> SignedLink:
    values = dict(ref="2026-10-000001", amount_cents=12848, expires=int(START) + 3600, currency="EUR", token=TOKEN)
    values.update(over)
    return SignedLink(**values)


# ---------------------------------------------------------------- events

@pytest.mark.parametrize("kind", [k for k in EVENT_TYPES if k not in SCENE_FIELD])
def test_event_is_stored_without_personal_data(client, store, kind):
    assert _event(client, {"token": TOKEN, "type": kind}).status_code == 204
    (row,) = store.events(TOKEN)
    assert (row.token, row.kind, row.detail, row.at.timestamp()) == (TOKEN, kind, None, START)


def test_chapter_and_scene_events_keep_the_scene_id(client, store):
    assert _event(client, {"token": TOKEN, "type": "chapter", "chapter": "pay"}).status_code == 204
    assert _event(client, {"token": TOKEN, "type": "scene", "scene": "amount"}).status_code == 204
    assert [(e.kind, e.detail) for e in store.events(TOKEN)] == [("chapter", "pay"), ("scene", "amount")]


def test_event_sent_with_send_beacon_as_text_plain_is_accepted(client, store):
    resp = _event(client, json.dumps({"token": TOKEN, "type": "play_50"}), "text/plain;charset=UTF-8")
    assert resp.status_code == 204
    assert [e.kind for e in store.events(TOKEN)] == ["play_50"]


@pytest.mark.parametrize("body, message", [
    ({"token": "short", "type": "view"}, "not a customer token"),
    ({"token": TOKEN[:-1] + "/", "type": "view"}, "not a customer token"),
    ({"token": 12345, "type": "view"}, "not a customer token"),
    ({"type": "view"}, "not a customer token"),
    ({"token": TOKEN, "type": "play_33"}, "not an event"),
    ({"token": TOKEN, "type": "chapter"}, "needs 'chapter'"),
    ({"token": TOKEN, "type": "chapter", "chapter": "<script>"}, "needs 'chapter'"),
    ({"token": TOKEN, "type": "view", "chapter": "pay"}, "only with type 'chapter'"),
    ({"token": TOKEN, "type": "scene"}, "needs 'scene'"),
    ({"token": TOKEN, "type": "scene", "scene": "Pay\n"}, "needs 'scene'"),
    ({"token": TOKEN, "type": "scene", "chapter": "pay"}, "only with type 'chapter'"),
    ({"token": TOKEN, "type": "chapter", "chapter": "pay", "scene": "pay"}, "only with type 'scene'"),
    ({"token": TOKEN, "type": "view", "email": "g@example.com"}, "unknown field"),
    ([{"token": TOKEN, "type": "view"}], "JSON object"),
    ("{not json", "not JSON"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_bad_events_are_refused_with_a_message_and_not_stored(client, store, body, message):
    resp = _event(client, body)
    assert resp.status_code == 400
    assert message in resp.get_json()["error"]
    assert store.count_events() == 0


def test_event_with_another_content_type_is_refused(client, store):
    resp = client.post("/api/events", data={"token": TOKEN, "type": "view"})
    assert resp.status_code == 415 and "application/json or text/plain" in resp.get_json()["error"]
    assert store.count_events() == 0


def test_oversized_body_is_refused(client, store):
    resp = _event(client, json.dumps({"token": TOKEN, "type": "view", "pad": "x" * 20000}))
    assert resp.status_code == 413 and "larger than 16384 bytes" in resp.get_json()["error"]
    assert store.count_events() == 0


def test_events_are_rate_limited_per_token(database_url, clock):
    app = create_public_app(_config(database_url, events_per_minute=3), clock=clock)
    client, store = app.test_client(), app.extensions["tailorcast.public"].store
    codes = [_event(client, {"token": TOKEN, "type": "view"}).status_code for _ in range(4)]
    assert codes == [204, 204, 204, 429]
    limited = _event(client, {"token": TOKEN, "type": "view"})
    assert limited.headers["Retry-After"] == "20" and "at most 3 a minute" in limited.get_json()["error"]
    assert _event(client, {"token": OTHER, "type": "view"}).status_code == 204
    clock.now += 20
    assert _event(client, {"token": TOKEN, "type": "view"}).status_code == 204
    assert len(store.events(TOKEN)) == 4
    store.close()


# ---------------------------------------------------------------- status

def test_status_of_an_unpaid_bill_is_not_cached(client):
    resp = client.get(f"/api/status/{TOKEN}")
    assert resp.status_code == 200 and resp.get_json() == {"paid": False}
    assert resp.headers["Cache-Control"] == "no-store"


def test_status_refuses_a_malformed_token(client):
    resp = client.get("/api/status/not-a-token")
    assert resp.status_code == 400 and "not a customer token" in resp.get_json()["error"]


# ---------------------------------------------------------------- instalments

def test_instalment_form_redirects_to_the_thank_you_anchor_and_is_stored(client, store):
    resp = client.post(f"/api/instalments/{TOKEN}", data={"instalments": "3", "contact": "phone"},
                       headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/c/{TOKEN}/#instalments-thanks"
    assert store.instalment_requests(TOKEN) == [(3, "phone")]


def test_instalment_request_as_json_answers_json(client, store):
    resp = client.post(f"/api/instalments/{TOKEN}", json={"instalments": 6}, headers={"Accept": "application/json"})
    assert resp.status_code == 201 and resp.get_json() == {"ok": True, "instalments": 6, "contact": None}
    assert store.instalment_requests(TOKEN) == [(6, None)]


@pytest.mark.parametrize("data, message", [
    ({"instalments": "5"}, "must be one of 2, 3, 6"),
    ({"instalments": "three"}, "must be one of"),
    ({"contact": "phone"}, "must be one of"),
    ({"instalments": "3", "contact": "fax"}, "'contact' must be"),
    ({"instalments": "3", "phone": "+39 333 000 0000"}, "unknown field"),
])
def test_bad_instalment_forms_are_refused(client, store, data, message):
    resp = client.post(f"/api/instalments/{TOKEN}", data=data)
    assert resp.status_code == 400 and message in resp.get_json()["error"]
    assert store.instalment_requests(TOKEN) == []


def test_instalments_refuse_floats_duplicates_and_other_bodies(client, store):
    assert client.post(f"/api/instalments/{TOKEN}", json={"instalments": 3.0}).status_code == 400
    assert client.post(f"/api/instalments/{TOKEN}", data="instalments=3&instalments=6",
                       content_type="application/x-www-form-urlencoded").status_code == 400
    assert client.post(f"/api/instalments/{TOKEN}", data="3", content_type="text/plain").status_code == 415
    assert client.post("/api/instalments/bad-token", data={"instalments": "3"}).status_code == 400
    assert store.instalment_requests(TOKEN) == []


# ---------------------------------------------------------------- demo checkout

def test_demo_checkout_marks_the_signed_amount_paid_and_status_flips(client, store):
    url = sign_link("/demo/checkout", _link(), LINK_SECRET)
    page = client.get(url)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "€128.48" in html and 'name="sig"' in html and "http" not in html.split("<body>")[1]
    assert "style-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert client.get(f"/api/status/{TOKEN}").get_json() == {"paid": False}

    paid = client.post("/demo/checkout", data=_link().params(LINK_SECRET))
    assert paid.status_code == 200 and "Payment received" in paid.get_data(as_text=True)
    assert f'href="/c/{TOKEN}/"' in paid.get_data(as_text=True)
    status = client.get(f"/api/status/{TOKEN}").get_json()
    assert status == {"paid": True, "paid_at": "2026-09-21T14:14:40Z"}
    invoice = store.invoice("2026-10-000001")
    assert (invoice.amount_cents, invoice.paid_via) == (12848, "demo")

    again = client.post("/demo/checkout", data=_link().params(LINK_SECRET))
    assert again.status_code == 200 and "Already paid" in again.get_data(as_text=True)


def test_demo_checkout_page_is_allowed_its_inline_style_and_nothing_else(client):
    page = client.get(sign_link("/demo/checkout", _link(), LINK_SECRET))
    (style,) = re.findall(r"<style>(.*?)</style>", page.get_data(as_text=True), re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = page.headers["Content-Security-Policy"]
    assert style.startswith("body{") and f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert page.get_data(as_text=True).startswith("<!doctype html>")


def test_demo_checkout_refuses_a_posted_amount_that_differs_from_the_signed_one(client, store):
    form = _link().params(LINK_SECRET)
    form["amount"] = "100"
    resp = client.post("/demo/checkout", data=form)
    assert resp.status_code == 403 and "altered" in resp.get_data(as_text=True)
    assert store.invoice("2026-10-000001") is None
    assert client.get(f"/api/status/{TOKEN}").get_json() == {"paid": False}


def test_demo_checkout_refuses_tampered_and_expired_links(client, clock):
    url = sign_link("/demo/checkout", _link(), LINK_SECRET)
    assert client.get(url.replace("amount=12848", "amount=1")).status_code == 403
    assert client.get(url.replace("ref=2026-10-000001", "ref=2026-10-000002")).status_code == 403
    assert client.get(url.replace("&sig=", "&x=1&sig=")).status_code == 200  # the payment page's own parameters are fine
    clock.now += 3600
    expired = client.get(url)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert client.post("/demo/checkout", data=_link().params(LINK_SECRET)).status_code == 410


def test_demo_checkout_refuses_a_second_link_with_another_amount_for_the_same_invoice(client, store):
    assert client.post("/demo/checkout", data=_link().params(LINK_SECRET)).status_code == 200
    other = _link(amount_cents=500, token=OTHER)
    assert client.get(sign_link("/demo/checkout", other, LINK_SECRET)).status_code == 200  # shows "already paid"
    resp = client.post("/demo/checkout", data=other.params(LINK_SECRET))
    assert resp.status_code == 409 and "differs from what was issued" in resp.get_data(as_text=True)
    assert client.get(f"/api/status/{OTHER}").get_json() == {"paid": False}


def test_demo_checkout_escapes_what_it_echoes(client):
    resp = client.get("/demo/checkout?ref=%3Cscript%3E&amount=1&cur=EUR&exp=1&sig=" + "a" * 43)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "&lt;script&gt;" in html and "<script>" not in html


def test_demo_checkout_is_off_unless_enabled(database_url, clock):
    app = create_public_app(_config(database_url, demo_checkout=False), clock=clock)
    resp = app.test_client().get(sign_link("/demo/checkout", _link(), LINK_SECRET))
    assert resp.status_code == 404 and resp.is_json
    app.extensions["tailorcast.public"].store.close()


# ---------------------------------------------------------------- webhooks

def test_signed_payment_webhook_marks_the_bill_paid(client, store, clock):
    resp = _webhook(client, _paid_event(), clock.now)
    assert resp.status_code == 200 and resp.get_json() == {"received": True, "outcome": "paid"}
    assert client.get(f"/api/status/{TOKEN}").get_json()["paid"] is True
    assert store.invoice("2026-10-000001").paid_via == "webhook"


def test_replayed_webhook_event_is_refused_even_with_a_fresh_signature(client, store, clock):
    assert _webhook(client, _paid_event(amount=100, token=""), clock.now).status_code == 200
    clock.now += 5
    resp = _webhook(client, _paid_event(amount=100, token=""), clock.now)
    assert resp.status_code == 409 and "already received" in resp.get_json()["error"]


def test_webhook_with_a_bad_missing_or_stale_signature_changes_nothing(client, clock):
    body = json.dumps(_paid_event()).encode()
    assert _webhook(client, body, clock.now, secret=b"x" * 40).status_code == 403
    no_header = client.post("/api/webhooks/payment", data=body, content_type="application/json")
    assert no_header.status_code == 400 and "Tailorcast-Signature" in no_header.get_json()["error"]
    header = sign_webhook(body, WEBHOOK_SECRET, int(clock.now))
    clock.now += 301
    stale = client.post("/api/webhooks/payment", data=body, content_type="application/json",
                        headers={"Tailorcast-Signature": header})
    assert stale.status_code == 403 and "stale" in stale.get_json()["error"]
    tampered = client.post("/api/webhooks/payment", data=body.replace(b"12848", b"12849"), content_type="application/json",
                           headers={"Tailorcast-Signature": sign_webhook(body, WEBHOOK_SECRET, int(clock.now))})
    assert tampered.status_code == 403
    assert client.get(f"/api/status/{TOKEN}").get_json() == {"paid": False}


def test_webhook_amount_must_match_the_issued_invoice(client, store, clock):
    store.issue(Payment("2026-10-000001", 12848, "EUR", TOKEN), dt.datetime.fromtimestamp(START, tz=dt.timezone.utc))
    resp = _webhook(client, _paid_event(amount=100), clock.now)
    assert resp.status_code == 409 and "amount (100 cents) differs" in resp.get_json()["error"]
    assert client.get(f"/api/status/{TOKEN}").get_json() == {"paid": False}
    assert store.webhook_outcome("evt_1") == "amount_mismatch"
    assert store.invoice("2026-10-000001").paid_at is None
    assert _webhook(client, _paid_event(event_id="evt_2"), clock.now).get_json()["outcome"] == "paid"


def test_other_webhook_events_are_acknowledged_and_ignored(client, store, clock):
    resp = _webhook(client, {"id": "evt_9", "type": "payment.failed", "data": {}}, clock.now)
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "ignored"
    assert store.webhook_outcome("evt_9") == "ignored"


@pytest.mark.parametrize("body, message", [
    ({"id": "evt 1", "type": "payment.succeeded"}, "'id'"),
    ({"id": "evt_1", "type": "payment.succeeded"}, "needs 'data'"),
    (_paid_event(amount="128.48"), "integer number of cents"),
    (_paid_event(amount=-5), "out of range"),
    (_paid_event(ref="<x>"), "data.ref"),
    (_paid_event(token="nope"), "data.token"),
    (b"[1,2", "not JSON"),
])
def test_signed_but_invalid_webhook_bodies_are_refused(client, store, clock, body, message):
    resp = _webhook(client, body, clock.now)
    assert resp.status_code == 400 and message in resp.get_json()["error"]
    assert store.webhook_outcome("evt_1") is None


# ---------------------------------------------------------------- errors, logs, config

def test_unknown_paths_and_methods_answer_json(client):
    assert client.get("/api/nope").get_json()["error"].startswith("no such endpoint")
    resp = client.get("/api/events")
    assert resp.status_code == 405 and "POST" in resp.get_json()["error"]


def test_personal_data_is_not_logged_above_debug(client, clock, caplog):
    caplog.set_level(logging.DEBUG)
    _event(client, {"token": TOKEN, "type": "view"})
    client.post(f"/api/instalments/{TOKEN}", data={"instalments": "3"})
    client.post("/demo/checkout", data=_link().params(LINK_SECRET))
    _webhook(client, _paid_event(event_id="evt_5", ref="2026-10-000009"), clock.now)
    _webhook(client, _paid_event(event_id="evt_5", ref="2026-10-000009"), clock.now)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert loud, "the flow should log something at info level"
    assert not [m for m in loud if TOKEN in m or "2026-10-00000" in m]
    assert any(TOKEN in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_config_refuses_weak_secrets_and_off_site_redirects(tmp_path):
    url = f"sqlite:///{tmp_path / 'public.db'}"
    with pytest.raises(ConfigError, match="link_secret must be at least 32 bytes"):
        _config(url, link_secret=b"short")
    with pytest.raises(ConfigError, match="thanks_url"):
        _config(url, thanks_url="https://evil.example/{token}")
    with pytest.raises(ConfigError, match="only placeholder"):
        _config(url, return_url="/c/{token}/{lang}")
    with pytest.raises(ConfigError, match="instalment_choices"):
        _config(url, instalment_choices=())


def test_config_from_settings_uses_the_state_folder_and_separate_keys(settings):
    cfg = public_config(settings)
    assert cfg.database_url == f"sqlite:///{settings.state_dir / 'public.db'}"
    assert cfg.link_secret != cfg.webhook_secret and settings.secret not in (cfg.link_secret, cfg.webhook_secret)
    assert "secret" not in repr(cfg).replace("_secret", "")


# ---------------------------------------------------------------- over a real socket

def _http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_real_socket_beacon_webhook_and_status(database_url, clock):
    app = create_public_app(_config(database_url), clock=clock)
    with closing(public_store(app)), serve(app) as base:
        beacon = json.dumps({"token": TOKEN, "type": "view"}).encode()
        assert _http(base + "/api/events", beacon, {"Content-Type": "text/plain;charset=UTF-8"})[0] == 204
        code, headers, body = _http(f"{base}/api/status/{TOKEN}")
        assert (code, json.loads(body), headers["Cache-Control"]) == (200, {"paid": False}, "no-store")
        raw = json.dumps(_paid_event()).encode()
        signed = {"Content-Type": "application/json", "Tailorcast-Signature": sign_webhook(raw, WEBHOOK_SECRET, int(clock.now))}
        assert _http(base + "/api/webhooks/payment", raw, signed)[0] == 200
        assert _http(base + "/api/webhooks/payment", raw, signed)[0] == 409
        assert json.loads(_http(f"{base}/api/status/{TOKEN}")[2])["paid"] is True
        assert _http(base + "/api/events", b"x" * 20000, {"Content-Type": "text/plain"})[0] == 413
        assert [e.kind for e in public_store(app).events(TOKEN)] == ["view"]


def test_same_origin_serves_pages_and_api_together(tmp_path, clock):
    (tmp_path / "site" / "c" / TOKEN).mkdir(parents=True)
    (tmp_path / "site" / "c" / TOKEN / "index.html").write_text("<!doctype html><title>bill</title>")
    public = create_public_app(_config(f"sqlite:///{tmp_path / 'public.db'}"), clock=clock)
    both = same_origin(create_static_app(tmp_path / "site"), public)
    c = Client(both)
    page = c.get(f"/c/{TOKEN}/")
    assert page.get_data(as_text=True).startswith("<!doctype html>")
    page.close()
    assert c.get("/api/health").get_json() == {"ok": True}
    public.extensions["tailorcast.public"].store.close()


# ---------------------------------------------------------------- failures nobody planned for

def test_an_unexpected_failure_answers_json_with_an_incident_id_and_logs_no_data(app, client, store, monkeypatch, caplog):
    private = "Maria Rossi owes 128,48"

    def broken(token):
        raise KeyError(private)  # the exception's text holds data; the code line does not
    monkeypatch.setattr(store, "status", broken)
    with caplog.at_level(logging.INFO, logger="tailorcast.public"):
        resp = client.get(f"/api/status/{TOKEN}")
    assert resp.status_code == 500 and resp.is_json
    incident = re.fullmatch(r"the server failed; the operator can find incident ([0-9a-f]{12}) in its log", resp.get_json()["error"])
    assert incident, resp.get_json()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert incident.group(1) in logged and "KeyError" in logged and "/api/status/<token>" in logged
    assert "Maria" not in logged and "128,48" not in logged and TOKEN not in logged


def test_a_store_that_is_down_answers_503_with_retry_after(app, client, store, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(token):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    monkeypatch.setattr(store, "status", down)
    resp = client.get(f"/api/status/{TOKEN}")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert resp.get_json()["error"].startswith("the store is unavailable; try again shortly (incident ")
