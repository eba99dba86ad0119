"""Fake tokens: the public server stores nothing for a token no run issued, and no client can flood it (issue 10, item 2).

A token carries a tag made with a key derived from the runs' secret (tailorcast/tokens.py); the server checks
it with the same secret, so it needs no list of tokens and works for pages on a CDN.
"""

from __future__ import annotations

import json

import pytest

from public_server.app import create_public_app
from test_public_server import OTHER, RUN_SECRET, START, TOKEN, FakeClock, _config, _event
from tailorcast.tokens import customer_token, is_issued, token_key

INVENTED = [
    "q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u",  # well-formed, 32 characters, no valid tag
    TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B"),  # an issued token with its tag changed
    customer_token(b"another-secret-" + b"x" * 32, "bill-explainer", "run-1", "CUST-00001"),  # another deployment's
    "A" * 40,  # well-formed for a bucket key, but not a token's length
]


@pytest.fixture
def app(database_url):
    app = create_public_app(_config(database_url), clock=FakeClock(START))
    yield app
    app.extensions["tailorcast.public"].store.close()


def test_a_token_is_issued_only_under_its_secret():
    key = token_key(RUN_SECRET)
    assert is_issued(TOKEN, key) and is_issued(OTHER, key)
    assert not any(is_issued(t, key) for t in INVENTED)
    assert not is_issued(TOKEN, token_key(b"z" * 32)) and not is_issued(TOKEN + "\n", key) and not is_issued(None, key)


@pytest.mark.parametrize("fake", INVENTED)
def test_invented_tokens_are_refused_everywhere_and_nothing_is_stored(app, fake):
    client, store = app.test_client(), app.extensions["tailorcast.public"].store
    answers = [_event(client, {"token": fake, "type": "view"}),
               client.post(f"/api/instalments/{fake}", data={"instalments": "3"}),
               client.get(f"/api/status/{fake}")]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert all("no page has this token" in a.get_json()["error"] for a in answers)
    assert store.count_events() == 0 and store.instalment_requests(fake) == []


def test_issued_tokens_are_accepted(app):
    client, store = app.test_client(), app.extensions["tailorcast.public"].store
    assert _event(client, {"token": TOKEN, "type": "view"}).status_code == 204
    assert client.post(f"/api/instalments/{TOKEN}", data={"instalments": "3"}).status_code == 303
    assert client.get(f"/api/status/{TOKEN}").get_json() == {"paid": False}
    assert len(store.events(TOKEN)) == 1 and store.instalment_requests(TOKEN) == [(3, None)]


def test_one_client_is_limited_across_tokens_and_endpoints(database_url):
    clock = FakeClock(START)
    app = create_public_app(_config(database_url, client_per_minute=5), clock=clock)
    try:
        client = app.test_client()
        codes = [_event(client, {"token": t, "type": "view"}).status_code for t in (TOKEN, OTHER, TOKEN)]
        codes += [client.get(f"/api/status/{t}").status_code for t in (TOKEN, OTHER, TOKEN)]
        assert codes == [204, 204, 204, 200, 200, 429]
        refused = client.get(f"/api/status/{OTHER}")
        assert refused.headers["Retry-After"] == "20" and "from this address" in refused.get_json()["error"]
        other_client = app.test_client()
        assert other_client.get(f"/api/status/{TOKEN}", environ_base={"REMOTE_ADDR": "127.0.0.2"}).status_code == 200
        assert client.get("/api/health").status_code == 200  # the health check is never limited
        clock.now += 20
        assert client.get(f"/api/status/{TOKEN}").status_code == 200
    finally:
        app.extensions["tailorcast.public"].store.close()


def test_the_server_as_a_whole_is_limited(database_url):
    app = create_public_app(_config(database_url, total_per_minute=4), clock=FakeClock(START))
    try:
        client = app.test_client()
        codes = [client.get(f"/api/status/{TOKEN}", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(6)]
        assert codes == [200, 200, 200, 200, 429, 429]
    finally:
        app.extensions["tailorcast.public"].store.close()


def test_behind_a_proxy_the_client_is_the_forwarded_address(database_url):
    app = create_public_app(_config(database_url, client_per_minute=1, proxy_hops=1), clock=FakeClock(START))
    try:
        client = app.test_client()
        ask = lambda ip: client.get(f"/api/status/{TOKEN}", headers={"X-Forwarded-For": ip}).status_code  # noqa: E731
        assert [ask("203.0.113.1"), ask("203.0.113.2"), ask("203.0.113.1")] == [200, 200, 429]
    finally:
        app.extensions["tailorcast.public"].store.close()


def test_pages_of_a_real_run_are_accepted_by_a_server_with_the_same_secret(settings, tmp_path):
    """The server is built from the same Settings as the run (public_config): the run's tokens pass."""
    from public_server.config import public_config

    token = customer_token(settings.secret, "bill-explainer", "run-9", "CUST-00009")
    app = create_public_app(public_config(settings, database_url=f"sqlite:///{tmp_path / 'p.db'}"), clock=FakeClock(START))
    try:
        body = json.dumps({"token": token, "type": "view"})
        assert app.test_client().post("/api/events", data=body, content_type="application/json").status_code == 204
    finally:
        app.extensions["tailorcast.public"].store.close()
