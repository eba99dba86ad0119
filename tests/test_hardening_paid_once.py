"""Double "paid" under concurrency: one conditional UPDATE decides who paid (issue 10, item 4).

Many clients pay the same signed link at once, through a real server on 127.0.0.1 with threads, on SQLite and
(marked e2e) PostgreSQL: exactly one is told "Payment received". The same for webhooks of different event ids
reporting the same payment: exactly one applies it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing

import pytest

from helpers.web import public_store, serve
from public_server.app import create_public_app
from store.store import Payment, Store
from tailorcast.payments.webhooks import sign_webhook
from test_public_server import LINK_SECRET, START, WEBHOOK_SECRET, FakeClock, _config, _link, _paid_event

PAYERS = 10


def _together(n: int, request) -> list[tuple[int, bytes]]:
    """``request(i)`` from ``n`` threads released at one barrier; their (status, body)."""
    barrier, out = threading.Barrier(n), [None] * n

    def one(i: int) -> None:
        req = request(i)
        barrier.wait()
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                out[i] = (resp.status, resp.read())
        except urllib.error.HTTPError as exc:
            out[i] = (exc.code, exc.read())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


@pytest.fixture(autouse=True)
def slow_readers(monkeypatch):
    """Every payer dawdles a little between reading the invoice and paying it, as a loaded server does: the race
    then happens on every run, not one run in three."""
    read = Store._issue

    def slow(self, *args, **kwargs):
        row = read(self, *args, **kwargs)
        time.sleep(0.03)
        return row

    monkeypatch.setattr(Store, "_issue", slow)


def _issue(app) -> None:
    """The invoice exists before anyone pays (a run issued it): every payer then reads "unpaid" at once."""
    link = _link()
    public_store(app).issue(Payment(link.ref, link.amount_cents, link.currency, link.token), dt.datetime.fromtimestamp(START, dt.timezone.utc))


def test_concurrent_checkouts_of_one_link_pay_it_once(database_url):
    app = create_public_app(_config(database_url, checkout_per_minute=100), clock=FakeClock(START))
    form = urllib.parse.urlencode(_link().params(LINK_SECRET)).encode()
    _issue(app)
    with closing(public_store(app)), serve(app) as base:
        answers = _together(PAYERS, lambda i: urllib.request.Request(base + "/demo/checkout", data=form, method="POST"))
        invoice = public_store(app).invoice("2026-10-000001")
    assert [status for status, _ in answers] == [200] * PAYERS
    assert sum(b"Payment received" in body for _, body in answers) == 1
    assert sum(b"Already paid" in body for _, body in answers) == PAYERS - 1
    assert invoice.paid_via == "demo"


def test_concurrent_webhooks_for_one_payment_apply_it_once(database_url):
    clock = FakeClock(START)
    app = create_public_app(_config(database_url), clock=clock)

    def delivery(base: str, i: int) -> urllib.request.Request:
        raw = json.dumps(_paid_event(event_id=f"evt_{i}")).encode()
        headers = {"Content-Type": "application/json", "Tailorcast-Signature": sign_webhook(raw, WEBHOOK_SECRET, int(clock.now))}
        return urllib.request.Request(base + "/api/webhooks/payment", data=raw, headers=headers, method="POST")

    _issue(app)
    with closing(public_store(app)), serve(app) as base:
        answers = _together(PAYERS, lambda i: delivery(base, i))
        outcomes = [public_store(app).webhook_outcome(f"evt_{i}") for i in range(PAYERS)]
    assert [status for status, _ in answers] == [200] * PAYERS
    assert sorted(json.loads(body)["outcome"] for _, body in answers) == ["already_paid"] * (PAYERS - 1) + ["paid"]
    assert outcomes.count("paid") == 1 and outcomes.count("already_paid") == PAYERS - 1
