"""Customer folders are unguessable tokens; every key is built by one module."""

from __future__ import annotations

import re

import pytest

from tailorcast import keys
from tailorcast.tokens import customer_token

SECRET = b"s" * 40


def test_token_is_url_safe_long_and_stable():
    t = customer_token(SECRET, "bill-explainer", "run-1", "CUST-00001")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", t)  # 24 bytes = 192 bits
    assert t == customer_token(SECRET, "bill-explainer", "run-1", "CUST-00001")


@pytest.mark.parametrize("change", [
    (b"t" * 40, "bill-explainer", "run-1", "CUST-00001"),
    (SECRET, "other", "run-1", "CUST-00001"),
    (SECRET, "bill-explainer", "run-2", "CUST-00001"),
    (SECRET, "bill-explainer", "run-1", "CUST-00002"),
    (SECRET, "bill-explainerr", "un-1", "CUST-00001"),  # length-prefixed: no ambiguity
])
def test_token_depends_on_secret_template_run_and_customer(change):
    assert customer_token(*change) != customer_token(SECRET, "bill-explainer", "run-1", "CUST-00001")


def test_token_does_not_contain_the_customer_id():
    assert "CUST" not in customer_token(SECRET, "t", "r", "CUST-00001")


def test_key_layout():
    tok = "A" * 32
    assert keys.customer_file(tok, "index.html") == f"c/{tok}/index.html"
    assert keys.customer_file(tok, keys.captions_name("it")) == f"c/{tok}/captions.it.vtt"
    assert keys.shared_object("css", "ab" * 16, "css") == "shared/css/" + "ab" * 16 + ".css"
    assert keys.run_file("run-1", "manifest.csv") == "runs/run-1/manifest.csv"


@pytest.mark.parametrize("bad", ["Giulia Rossi", "CUST/1", "../x", "a@b.c"])
def test_keys_refuse_anything_but_tokens(bad):
    with pytest.raises(ValueError):
        keys.customer_prefix(bad)


def test_headers_per_key():
    tok = "A" * 32
    assert keys.cache_control("shared/css/" + "ab" * 16 + ".css") == "public, max-age=31536000, immutable"
    assert keys.cache_control(f"c/{tok}/index.html") == "private, max-age=300"  # personal: no shared cache keeps it
    assert keys.cache_control("runs/r/manifest.csv") == "private, no-store"
    assert keys.content_type(f"c/{tok}/video.mp4") == "video/mp4"
    assert keys.content_type(f"c/{tok}/captions.en.vtt") == "text/vtt; charset=utf-8"
    assert keys.is_public(f"c/{tok}/index.html") and not keys.is_public("runs/r/manifest.csv")
    assert keys.relative_url(f"c/{tok}/index.html", "shared/css/x.css") == "../../shared/css/x.css"


def test_local_secret_is_generated_once_and_private(tmp_path):
    from tailorcast.settings import load_settings

    a = load_settings(env={}, state_dir=tmp_path)
    b = load_settings(env={}, state_dir=tmp_path)
    assert a.secret == b.secret and len(a.secret) >= 32
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0


def test_short_secret_from_environment_is_refused(tmp_path):
    from tailorcast.errors import ConfigError
    from tailorcast.settings import load_settings

    with pytest.raises(ConfigError, match="at least 32"):
        load_settings(env={"TAILORCAST_SECRET": "short"}, state_dir=tmp_path)
