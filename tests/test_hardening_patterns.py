"""Trailing newlines: ``$`` accepts "x\\n", so every pattern is a full match (issue 10, item 5).

Each pattern's own check gets the newline case; a scan of the project's packages fails on a pattern anchored
with ``$`` or a ``.match(`` on a compiled pattern, the two halves of that mistake.
"""

from __future__ import annotations

import ast
import re

import pytest

from helpers.samples import ROOT

PACKAGES = ["tailorcast", "renderer", "microsite", "workers", "store", "public_server", "studio", "results"]
NL = "\n"


def _keys_cases():
    from tailorcast import keys

    token = "A" * 32
    return [
        lambda: keys.customer_prefix(token + NL),
        lambda: keys.customer_file(token, "index.html" + NL),
        lambda: keys.video_name("wide" + NL),
        lambda: keys.shared_object("css", "0" * 16 + NL, "css"),
        lambda: keys.run_file("run-1" + NL, "manifest.csv"),
    ]


def _payments_cases():
    from tailorcast.payments.amounts import check_currency, check_ref
    from tailorcast.payments.stripe import client_reference_id, stripe_payment_link

    return [
        lambda: check_ref("2026-10-000001" + NL),
        lambda: check_currency("EUR" + NL),
        lambda: client_reference_id("ref" + NL),
        lambda: stripe_payment_link("test_4gw3cu" + NL, "ref"),
        lambda: stripe_payment_link("test_4gw3cu", "ref", "ann@example.com" + NL),
    ]


@pytest.mark.parametrize("i", range(5))
def test_bucket_keys_refuse_a_trailing_newline(i):
    with pytest.raises(ValueError):
        _keys_cases()[i]()


@pytest.mark.parametrize("i", range(5))
def test_payment_fields_refuse_a_trailing_newline(i):
    from tailorcast.errors import PaymentError

    with pytest.raises(PaymentError):
        _payments_cases()[i]()


def test_tokens_refuse_a_trailing_newline():
    from tailorcast.payments.links import is_token

    assert is_token("A" * 32) and not is_token("A" * 32 + NL)


@pytest.mark.parametrize("field", ["amount", "exp", "sig"])
def test_signed_links_refuse_a_trailing_newline(field):
    from tailorcast.errors import LinkRejected
    from tailorcast.payments.links import SignedLink, verify_signed_link

    secret = b"k" * 32
    params = SignedLink("2026-10-000001", 12848, 1_900_000_000, "EUR", "").params(secret)
    verify_signed_link(params, secret, 1_800_000_000)  # the unchanged link holds
    params[field] += NL
    with pytest.raises(LinkRejected) as info:
        verify_signed_link(params, secret, 1_800_000_000)
    assert info.value.reason == "malformed"


@pytest.mark.parametrize("body", [{"id": "evt_1" + NL, "type": "payment.failed"}, {"id": "evt_1", "type": "payment.failed" + NL}])
def test_webhook_bodies_refuse_a_trailing_newline(body):
    from public_server.validation import ApiError
    from public_server.webhook_body import parse_webhook_event

    with pytest.raises(ApiError):
        parse_webhook_event(body)


def _patterns_and_matches(source: str) -> tuple[list[str], list[int]]:
    tree = ast.parse(source)
    anchored, matches = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("compile", "match", "fullmatch", "search") and isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
                first = node.args[0] if node.args else None
                multiline = any("M" in ast.unparse(a) for a in node.args[1:]) or any(k.arg == "flags" and "M" in ast.unparse(k.value) for k in node.keywords)
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.endswith("$") and not multiline:
                    anchored.append(first.value)
                if node.func.attr == "match":
                    matches.append(node.lineno)
            elif node.func.attr == "match" and isinstance(node.func.value, ast.Name) and re.fullmatch(r"_?[A-Z][A-Z0-9_]*|pattern", node.func.value.id):
                matches.append(node.lineno)
    return anchored, matches


def test_no_pattern_in_the_project_is_anchored_with_dollar_or_used_with_match():
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            anchored, matches = _patterns_and_matches(path.read_text())
            found += [f"{path.relative_to(ROOT)}: {p!r}" for p in anchored] + [f"{path.relative_to(ROOT)}:{n} .match(" for n in matches]
    assert found == [], f"use pattern.fullmatch(value) without ^ and $ ('$' accepts a trailing newline): {found}"
    assert _patterns_and_matches('import re\n_X = re.compile(r"^a$")\n_X.match(v)\n') == (["^a$"], [3])
    assert _patterns_and_matches('import re\n_L = re.compile(r"^name:.*$", re.M)\n') == ([], [])  # per line: $ is meant
