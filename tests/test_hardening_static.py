"""The served folder and the servers' edges (issue 10, items 6, 7, 8 and 10).

- Symbolic links inside a served folder: only a file whose resolved key is public is served (item 6).
- Bad paths and bodies: a NUL, an over-long name, deeply nested JSON, a chunked body over the limit answer
  404/400/413, never 500, with no traceback in the log (item 7).
- Framing: ``tailorcast serve`` sends the CSP with ``frame-ancestors 'none'`` and X-Frame-Options as headers,
  one charset, personal files ``private`` (item 8).
- The demo checkout is on in ``tailorcast serve`` only with ``--demo-checkout`` (item 10).
"""

from __future__ import annotations

import http.client
import json
import logging
from contextlib import closing

import pytest
from werkzeug.test import Client

from helpers.web import public_store, serve
from public_server.app import create_public_app
from public_server.static import create_static_app
from tailorcast import keys
from test_public_server import START, TOKEN, FakeClock, _config, _link

SHARED = "shared/css/" + "ab" * 16 + ".css"


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "c" / TOKEN).mkdir(parents=True)
    (root / "c" / TOKEN / "index.html").write_text("<!doctype html><title>bill</title>")
    (root / "c" / TOKEN / "video-wide.mp4").write_bytes(b"\0\0\0\x18ftypmp42")
    (root / "shared" / "css").mkdir(parents=True)
    (root / SHARED).write_text("body{}")
    (root / "runs" / "r1").mkdir(parents=True)
    (root / "runs" / "r1" / "manifest.csv").write_text("row,customer_id\n2,CUST-00001\n")
    return root


# ---------------------------------------------------------------- item 6: links

def test_a_link_from_a_public_folder_to_runs_is_not_followed(site):
    other = "Zk9Q2mXbW4cV7nL1pR8sT3uY6aE0dF5g"
    (site / "c" / "x").symlink_to("../runs")
    (site / "c" / other).symlink_to("../runs/r1")  # a public-looking key that resolves into runs/
    (site / "c" / TOKEN / "captions.en.vtt").symlink_to("../../runs/r1/manifest.csv")
    (site / "shared" / "css" / ("cd" * 16 + ".css")).symlink_to("/etc/passwd")
    c = Client(create_static_app(site))
    for path in ("/c/x/r1/manifest.csv", f"/c/{other}/manifest.csv", f"/c/{TOKEN}/captions.en.vtt", "/shared/css/" + "cd" * 16 + ".css"):
        resp = c.get(path)
        assert resp.status_code == 404, path
        assert b"CUST-00001" not in resp.data and b"root:" not in resp.data


def test_a_link_that_stays_among_public_keys_is_served(site):
    (site / "c" / TOKEN / "poster-wide.jpg").symlink_to("video-wide.mp4")
    resp = Client(create_static_app(site)).get(f"/c/{TOKEN}/poster-wide.jpg")
    assert resp.status_code == 200 and resp.data.startswith(b"\0\0\0\x18ftyp")
    resp.close()


# ---------------------------------------------------------------- item 7: bad paths and bodies

@pytest.mark.parametrize("path", [
    f"/c/{TOKEN}/index.html%00.png", "/c/a%00b/", f"/c/{TOKEN}/" + "a" * 300 + ".html", "/c/" + "a" * 5000 + "/",
    f"/c/{TOKEN}/../../runs/r1/manifest.csv", "/runs/r1/manifest.csv", f"/c/{TOKEN}/index.html%0A",
])
def test_bad_paths_answer_404_and_log_no_traceback(site, path, caplog):
    caplog.set_level(logging.DEBUG)
    resp = Client(create_static_app(site)).get(path)
    assert resp.status_code == 404
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", ["/api/status/a%00b", "/api/status/" + "a" * 5000, f"/api/status/{TOKEN}%0A",
                                  f"/api/instalments/{TOKEN}%00"])
def test_bad_api_paths_answer_400_and_log_no_traceback(tmp_path, path, caplog):
    caplog.set_level(logging.DEBUG)
    app = create_public_app(_config(f"sqlite:///{tmp_path / 'p.db'}"), clock=FakeClock(START))
    with closing(public_store(app)):
        method = "post" if "instalments" in path else "get"
        resp = getattr(app.test_client(), method)(path, data={"instalments": "3"} if method == "post" else None)
    assert resp.status_code == 400 and "not a customer token" in resp.get_json()["error"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("endpoint", ["/api/events", "/api/webhooks/payment"])
def test_deeply_nested_json_is_a_400_not_a_crash(tmp_path, endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    app = create_public_app(_config(f"sqlite:///{tmp_path / 'p.db'}"), clock=FakeClock(START))
    body = '{"token": ' + "[" * 5000 + "]" * 5000 + "}"
    with closing(public_store(app)):
        if endpoint.endswith("payment"):
            from tailorcast.payments.webhooks import sign_webhook
            from test_public_server import WEBHOOK_SECRET

            headers = {"Tailorcast-Signature": sign_webhook(body.encode(), WEBHOOK_SECRET, int(START))}
        else:
            headers = {}
        resp = app.test_client().post(endpoint, data=body, content_type="application/json", headers=headers)
    assert resp.status_code == 400 and "nests arrays and objects more than" in resp.get_json()["error"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def _chunked(base: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    with closing(http.client.HTTPConnection(host, int(port), timeout=10)) as conn:
        conn.request("POST", path, body=(body[i:i + 1000] for i in range(0, len(body), 1000)),
                     headers={"Content-Type": content_type}, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.read()


def test_a_chunked_body_over_the_limit_is_refused_not_cut(tmp_path):
    app = create_public_app(_config(f"sqlite:///{tmp_path / 'p.db'}"), clock=FakeClock(START))
    event = json.dumps({"token": TOKEN, "type": "view"}).encode()
    padded = event[:-1] + b" " * 20000 + b"}"  # valid JSON whose first 16 KiB are valid JSON too once cut
    form = b"instalments=3&contact=" + b"x" * 20000
    with closing(public_store(app)), serve(app) as base:
        assert _chunked(base, "/api/events", event, "application/json")[0] == 204
        status, body = _chunked(base, "/api/events", padded, "application/json")
        assert status == 413 and b"larger than 16384 bytes" in body
        assert _chunked(base, f"/api/instalments/{TOKEN}", form, "application/x-www-form-urlencoded")[0] == 413
        assert [e.kind for e in public_store(app).events(TOKEN)] == ["view"]
        assert public_store(app).instalment_requests(TOKEN) == []


# ---------------------------------------------------------------- item 8: framing, charset, cache

def test_served_pages_forbid_framing_with_headers_and_say_their_charset_once(site):
    c = Client(create_static_app(site))
    for path in (f"/c/{TOKEN}/", f"/c/{TOKEN}/video-wide.mp4", "/" + SHARED, "/runs/r1/manifest.csv"):
        resp = c.get(path)
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff", path
        resp.close()
    page = c.get(f"/c/{TOKEN}/")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    page.close()


def test_personal_files_are_private_and_shared_ones_public(site):
    c = Client(create_static_app(site))
    for path, cache in ((f"/c/{TOKEN}/", "private, max-age=300"), (f"/c/{TOKEN}/video-wide.mp4", "private, max-age=300"),
                        ("/" + SHARED, "public, max-age=31536000, immutable")):
        resp = c.get(path)
        assert resp.headers["Cache-Control"] == cache == keys.cache_control(path.lstrip("/") + ("index.html" if path.endswith("/") else ""))
        resp.close()


def test_the_readme_documents_the_headers_the_cdn_must_send():
    from helpers.samples import ROOT

    readme = (ROOT / "README.md").read_text()
    for name, value in keys.SECURITY_HEADERS.items():
        assert f"| `{name}` | `{value}` |" in readme, f"README 'CDN rules' must list {name}: {value}"


# ---------------------------------------------------------------- item 10: the demo checkout is opt-in

@pytest.mark.parametrize("flags, checkout", [([], 404), (["--demo-checkout"], 200)])
def test_serve_enables_the_demo_checkout_only_when_asked(site, tmp_path, monkeypatch, flags, checkout):
    import werkzeug.serving
    from click.testing import CliRunner

    from tailorcast.cli import main

    served = {}
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: served.setdefault("app", app))
    monkeypatch.setenv("TAILORCAST_SECRET", "s" * 40)
    result = CliRunner().invoke(main, ["serve", str(site), "--state", str(tmp_path / "state"), *flags])
    assert result.exit_code == 0, result.output
    c = Client(served["app"])
    from tailorcast.payments.links import derive_key, sign_link

    url = sign_link("/demo/checkout", _link(expires=4_000_000_000), derive_key(b"s" * 40, "pay-link"))
    assert c.get(url).status_code == checkout
    assert c.get("/api/health").status_code == 200


def test_serve_refuses_demo_checkout_without_the_api(site):
    from click.testing import CliRunner

    from tailorcast.cli import main

    result = CliRunner().invoke(main, ["serve", str(site), "--no-api", "--demo-checkout"])
    assert result.exit_code == 2 and "--demo-checkout needs --api" in result.output
