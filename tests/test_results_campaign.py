"""A synthetic campaign end to end: a run's manifest (experiment with a holdout), page events posted to the
public server over real HTTP, a signed payment webhook, and the billing system's payments file; then
``tailorcast results … --format json|csv|table`` gives exactly the expected funnel and comparisons.

Runs on SQLite and (marked e2e) on the session's PostgreSQL through ``database_url``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import urllib.request

import pytest
from click.testing import CliRunner

from helpers.web import public_store, serve
from public_server.app import create_public_app
from public_server.config import public_config
from tailorcast import keys
from tailorcast.bucket import LocalBucket
from tailorcast.cli import main
from tailorcast.csvfile import csv_bytes
from tailorcast.payments.webhooks import sign_webhook
from tailorcast.settings import load_settings
from tailorcast.spec.model import Arm, Experiment
from tailorcast.tokens import customer_token

SECRET = "campaign-secret-" + "s" * 32
WEBHOOK_SECRET = b"w" * 32
RUN = "payment-reminder-3f2a9c1d0b7e"
SENT = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone.utc)
EXPERIMENT = Experiment("nov-tone", (Arm("video", 1.0), Arm("plain", 1.0)), holdout=0.25, planned_per_arm=1000)
# The arms experiments.assign_arm gives these ids (pinned in test_experiments' style: a change would move them).
ARMS = {"C-0001": "plain", "C-0002": "plain", "C-0003": "plain", "C-0004": "video", "C-0005": "plain", "C-0006": "plain",
        "C-0007": "video", "C-0008": "video", "C-0009": "holdout", "C-0010": "holdout", "C-0011": "holdout", "C-0012": "plain",
        "C-0013": "video", "C-0014": "video", "C-0015": "video"}
FAILED = {"C-0013"}
EVENTS = {  # what each page reported (C-0004 sends its view twice: customers are counted once)
    "C-0004": ["view", "view", "play_25", "play_50", "play_75", "play_100", ("chapter", "pay"), "cta_click", "pay_started"],
    "C-0007": ["view", "play", ("scene", "intro"), "play_25", "play_50", ("scene", "intro")],  # a scene counts once
    "C-0008": ["view"],
    "C-0014": ["view", "play_25", "play_50", "play_75", "play_100", "cta_click"],
    "C-0001": ["view", "play_25"],
    "C-0002": ["view"],
    "C-0005": ["view", "play_25", "play_50", "play_75", ("chapter", "intro"), ("chapter", "pay")],
    "C-0012": ["view", "cta_click", "pay_started"],
}
# The billing system's file: by invoice reference or customer id; C-0003 paid before the send date (not counted),
# C-0012 on day 40 (paid, but not within 30 days); the holdout pays at the bank counter.
PAYMENTS = [
    {"invoice_ref": "INV-0007", "customer_id": "", "paid_at": "2026-11-07T08:00:00Z", "amount": "80.00", "channel": "bank-transfer"},
    {"invoice_ref": "", "customer_id": "C-0014", "paid_at": "2026-11-22", "amount": "120.50", "channel": "online"},
    {"invoice_ref": "INV-0001", "customer_id": "", "paid_at": "2026-11-04T10:00:00", "amount": "45.00", "channel": "online"},
    {"invoice_ref": "INV-0003", "customer_id": "", "paid_at": "2026-10-30", "amount": "60.00", "channel": "counter"},
    {"invoice_ref": "", "customer_id": "C-0012", "paid_at": "2026-12-12T09:00:00Z", "amount": "99.99", "channel": "counter"},
    {"invoice_ref": "", "customer_id": "C-0009", "paid_at": "2026-11-05", "amount": "70.00", "channel": "counter"},
    {"invoice_ref": "INV-0011", "customer_id": "", "paid_at": "2026-11-10", "amount": "30.00", "channel": "direct-debit"},
]


def _token(cid: str) -> str:
    return customer_token(SECRET.encode(), "payment-reminder", RUN, cid)


def _publish_manifest(folder) -> None:
    """What the run leaves in its bucket: runs/<id>/manifest.csv (token, status, variant, arm, ref) and summary.json."""
    rows = [{"row": n + 2, "customer_id": cid, "status": "failed" if cid in FAILED else "holdout" if arm == "holdout" else "ok",
             "variant": "friendly", "arm": arm, "ref": f"INV-{cid[2:]}", "token": _token(cid)} for n, (cid, arm) in enumerate(ARMS.items())]
    bucket = LocalBucket(folder)
    bucket.put_bytes(keys.run_file(RUN, "manifest.csv"), csv_bytes(["row", "customer_id", "status", "variant", "arm", "ref", "token"], rows))
    bucket.put_bytes(keys.run_file(RUN, "summary.json"), json.dumps({"run_id": RUN, "template": "payment-reminder",
                                                                      "experiment": EXPERIMENT.declaration()}).encode())


def _post(base: str, path: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@pytest.fixture
def campaign(tmp_path, database_url, monkeypatch):
    """The campaign's store after events, the webhook and both imports: (CliRunner invoke, state folder)."""
    monkeypatch.setenv("TAILORCAST_SECRET", SECRET)
    monkeypatch.setenv("TAILORCAST_DATABASE_URL", database_url)
    state = tmp_path / "state"
    settings = load_settings(state_dir=state)
    _publish_manifest(tmp_path / "public")
    clock = (SENT + dt.timedelta(days=1)).timestamp()
    app = create_public_app(public_config(settings, database_url=database_url, webhook_secret=WEBHOOK_SECRET), clock=lambda: clock)
    try:
        with serve(app) as base:
            for cid, events in EVENTS.items():
                for event in events:
                    kind, chapter = event if isinstance(event, tuple) else (event, None)
                    body = {"token": _token(cid), "type": kind} | ({kind: chapter} if chapter else {})  # "chapter"/"scene" name the scene id
                    assert _post(base, "/api/events", json.dumps(body).encode(), {"Content-Type": "text/plain;charset=UTF-8"}) == 204
            stranger = customer_token(SECRET.encode(), "payment-reminder", "another-run-000000000000", "C-0001")
            assert _post(base, "/api/events", json.dumps({"token": stranger, "type": "view"}).encode(), {"Content-Type": "application/json"}) == 204
            paid = json.dumps({"id": "evt_c0004", "type": "payment.succeeded",
                               "data": {"ref": "INV-0004", "token": _token("C-0004"), "amount": 5000, "currency": "EUR"}}).encode()
            assert _post(base, "/api/webhooks/payment", paid, {"Content-Type": "application/json",
                                                               "Tailorcast-Signature": sign_webhook(paid, WEBHOOK_SECRET, int(clock))}) == 200
    finally:
        public_store(app).close()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args))

    imported = invoke("results", "import-run", RUN, "--from", str(tmp_path / "public"), "--sent-at", "2026-11-02T08:00:00Z", "--state", str(state))
    assert imported.exit_code == 0, imported.output
    assert "15 customers imported; experiment nov-tone: holdout 3, plain 6, video 6" in imported.output
    payments = tmp_path / "payments.csv"
    payments.write_bytes(csv_bytes(["invoice_ref", "customer_id", "paid_at", "amount", "channel"], PAYMENTS))
    done = invoke("results", "import-payments", str(payments), "--state", str(state))
    assert done.exit_code == 0, done.output
    assert "7 rows, 7 payments added, 0 already imported, 0 rejected" in done.output
    return invoke, state, payments


def test_the_campaign_gives_exactly_the_expected_funnel_in_json(campaign):
    invoke, state, _ = campaign
    out = invoke("results", RUN, "--experiment", "nov-tone", "--format", "json", "--state", str(state))
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["grouped_by"] == "arm" and report["horizon_days"] == 30
    arms = {a["name"]: a for a in report["arms"]}
    assert list(arms) == ["video", "plain", "holdout"]
    funnel = {name: {k: a[k] for k in ("sent", "opened", "started", "watched_25", "watched_50", "watched_75", "completed", "chapter", "cta",
                                       "pay_started", "paid", "failed")} for name, a in arms.items()}
    assert funnel == {
        "video": {"sent": 5, "opened": 4, "started": 3, "watched_25": 3, "watched_50": 3, "watched_75": 2, "completed": 2, "chapter": 1,
                  "cta": 2, "pay_started": 1, "paid": 3, "failed": 1},
        "plain": {"sent": 6, "opened": 4, "started": 2, "watched_25": 2, "watched_50": 1, "watched_75": 1, "completed": 0, "chapter": 1,
                  "cta": 1, "pay_started": 1, "paid": 2, "failed": 0},
        "holdout": {"sent": 3, "opened": 0, "started": 0, "watched_25": 0, "watched_50": 0, "watched_75": 0, "completed": 0, "chapter": 0,
                    "cta": 0, "pay_started": 0, "paid": 2, "failed": 0},
    }
    assert arms["video"]["paid_rate"] == pytest.approx(3 / 5) and arms["plain"]["paid_rate"] == pytest.approx(2 / 6)
    assert {n: a["paid_within"] for n, a in arms.items()} == {"video": {"7": 2, "14": 2, "30": 3}, "plain": {"7": 1, "14": 1, "30": 1},
                                                              "holdout": {"7": 1, "14": 2, "30": 2}}
    # video: webhook on day 1, by reference on day 5, by customer id on day 19.67 (2026-11-22 00:00); plain: day 2.08 and day 40.04
    assert arms["video"]["median_days_to_pay"] == pytest.approx(5.0)
    assert arms["plain"]["median_days_to_pay"] == pytest.approx((2 + 2 / 24 + 40 + 1 / 24) / 2)
    assert {n: a["amount_collected_cents"] for n, a in arms.items()} == {"video": {"EUR": 5000 + 8000 + 12050}, "plain": {"EUR": 4500 + 9999},
                                                                         "holdout": {"EUR": 7000 + 3000}}
    assert arms["video"]["paid_by_day"][:6] == [0, 1, 1, 1, 1, 2] and arms["video"]["paid_by_day"][-1] == 3
    assert arms["holdout"]["paid_by_day"][2:9] == [0, 1, 1, 1, 1, 1, 2]
    assert arms["plain"]["dropoff"] == [{"scene": "intro", "reached": 1}, {"scene": "pay", "reached": 1}]
    assert arms["video"]["dropoff"] == [{"scene": "intro", "reached": 1}, {"scene": "pay", "reached": 1}] and arms["holdout"]["dropoff"] == []
    comparisons = {(c["a"], c["b"]): c for c in report["comparisons"]}
    assert list(comparisons) == [("video", "holdout"), ("plain", "holdout"), ("plain", "video")]
    video = comparisons[("video", "holdout")]
    assert (video["paid_a"], video["n_a"], video["paid_b"], video["n_b"]) == (3, 5, 2, 3)
    assert video["method"] == "newcombe" and video["diff"] == pytest.approx(3 / 5 - 2 / 3)
    # Newcombe by hand: Wilson 3/5 = (0.2307, 0.8824), 2/3 = (0.2077, 0.9385); low = δ − √((0.6 − 0.2307)² + (0.9385 − 0.6667)²)
    assert (round(video["ci_low"], 4), round(video["ci_high"], 4)) == (-0.5252, 0.4722)  # high = δ + √((0.8824 − 0.6)² + (0.6667 − 0.2077)²)
    # SRM by hand: 5, 6, 3 against 14 × (0.375, 0.375, 0.25) = 5.25, 5.25, 3.5: χ² = 0.190476, 2 degrees of freedom, p = e^(−χ²/2)
    assert report["srm"]["p"] == pytest.approx(0.909156, abs=1e-6) and video["srm_p"] == report["srm"]["p"] and not video["srm_warning"]
    assert not video["planned_size_reached"]
    assert video["statement"].startswith("Not at its planned size yet: 3 of 1,000 customers in the smallest arm")
    assert "no verdict before then" in video["statement"] and "Newcombe" in video["statement"]


def test_importing_the_payments_twice_changes_nothing(campaign):
    invoke, state, payments = campaign
    before = invoke("results", RUN, "--format", "json", "--state", str(state)).output
    again = invoke("results", "import-payments", str(payments), "--state", str(state))
    assert again.exit_code == 0 and "7 rows, 0 payments added, 7 already imported, 0 rejected" in again.output
    assert invoke("results", RUN, "--format", "json", "--state", str(state)).output == before


def test_the_per_customer_csv_has_tokens_arms_events_and_paid_and_no_personal_data(campaign):
    invoke, state, _ = campaign
    out = invoke("results", RUN, "--format", "csv", "--state", str(state))
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert list(rows[0]) == ["token", "arm", "events", "paid"]
    by_token = {r["token"]: r for r in rows}
    assert len(rows) == len(ARMS)
    assert by_token[_token("C-0004")] == {"token": _token("C-0004"), "arm": "video", "events": "9", "paid": "1"}
    assert by_token[_token("C-0009")] == {"token": _token("C-0009"), "arm": "holdout", "events": "0", "paid": "1"}
    assert by_token[_token("C-0003")]["paid"] == "0"  # paid before the send date
    for cid in ARMS:
        assert cid not in out.output and f"INV-{cid[2:]}" not in out.output
    assert "@" not in out.output


def test_the_table_says_the_numbers_and_the_method_and_a_wrong_experiment_or_run_is_refused_without_a_traceback(campaign):
    invoke, state, _ = campaign
    out = invoke("results", RUN, "--state", str(state))
    assert out.exit_code == 0, out.output
    assert "Not at its planned size yet" in out.output and "Newcombe" in out.output and "Sample ratio check" in out.output
    wrong = invoke("results", RUN, "--experiment", "dec-tone", "--state", str(state))
    assert wrong.exit_code == 2 and "this run's experiment is nov-tone, not 'dec-tone'" in " ".join(wrong.output.split())
    unknown = invoke("results", "payment-reminder-000000000000", "--state", str(state))
    assert unknown.exit_code == 2 and "import its manifest first" in " ".join(unknown.output.split()) and "Traceback" not in unknown.output


@pytest.mark.e2e  # a studio with a user per role: seconds of password hashing
def test_the_studio_shows_the_same_results_to_a_viewer_with_charts_json_twin_and_csv(campaign, settings, database_url, tmp_path):
    from helpers.studio import Staff, studio_app

    invoke, state, _ = campaign
    app = studio_app(settings, database_url, tmp_path / "studio")
    viewer = Staff(app, "vic")
    index = viewer.get("/results")
    assert index.status_code == 200 and RUN in index.get_data(as_text=True)
    page = viewer.get(f"/results/{RUN}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ('id="funnel-chart"', 'id="paid-curve"', 'id="dropoff-chart"'):
        assert chart in html
    assert '<tr data-arm="video"><td>video</td><td>5</td><td>4</td><td>3</td><td>3</td><td>3</td><td>2</td><td>2</td><td>1</td><td>2</td><td>1</td><td>3</td>' in html
    assert '<tr data-arm="holdout"><td>holdout</td><td>3</td><td>0</td>' in html
    assert "Not at its planned size yet" in html and "Newcombe" in html
    twin = viewer.get(f"/results/{RUN}", headers={"Accept": "application/json"}).get_json()
    cli = json.loads(invoke("results", RUN, "--format", "json", "--state", str(state)).output)
    assert {k: v for k, v in twin.items() if k != "days_since_send"} == {k: v for k, v in cli.items() if k != "days_since_send"}
    exported = viewer.get(f"/results/{RUN}/customers.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True) == invoke("results", RUN, "--format", "csv", "--state", str(state)).output
    assert viewer.get("/results/not-imported-000000000000").status_code == 404
    assert app.test_client().get(f"/results/{RUN}").status_code in (302, 401)  # signed-in staff only


@pytest.mark.browser
def test_the_studio_results_page_in_chromium_shows_the_funnel_charts_and_exports_the_csv(campaign, settings, database_url, tmp_path, chromium):
    from playwright.sync_api import expect

    from helpers.browser import open_page
    from helpers.studio import PASSWORD, studio_app

    invoke, state, _ = campaign
    app = studio_app(settings, database_url, tmp_path / "studio")
    bad: list[tuple[int, str]] = []
    with serve(app) as url, open_page(chromium, url + "/login", viewport={"width": 1366, "height": 768}) as (page, log):
        page.on("response", lambda r: bad.append((r.status, r.url)) if r.status >= 400 else None)
        page.get_by_label("User name").fill("vic")  # a viewer
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url + "/")
        page.get_by_role("link", name="Results").click()
        page.get_by_role("link", name=RUN).click()
        expect(page.locator("#funnel-table tr[data-arm='video'] td")).to_have_text(
            ["video", "5", "4", "3", "3", "3", "2", "2", "1", "2", "1", "3", "60.0 % (23.1–88.2)", "2", "2", "3", "5.0", "250.50 EUR", "1"])
        expect(page.locator("#funnel-table tr[data-arm='holdout'] td").nth(11)).to_have_text("2")
        for chart in ("#funnel-chart", "#paid-curve", "#dropoff-chart"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 50, chart
        assert page.locator("#paid-curve polyline").count() == 3 and page.locator("#funnel-chart rect").count() == 8 * 3
        expect(page.locator("#comparisons")).to_contain_text("Not at its planned size yet")
        with page.expect_download() as download:
            page.get_by_role("link", name="Per-customer CSV").click()
        exported = open(download.value.path(), encoding="utf-8").read()
        assert exported == invoke("results", RUN, "--format", "csv", "--state", str(state)).output
        assert not log.errors, log.errors
        assert not bad, bad


# ---------------------------------------------------------------- the template's next month: results across runs

RUN2 = "payment-reminder-8e1d5c2b7a90"
SENT2 = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.timezone.utc)
ARMS2 = {**ARMS, "C-0016": "video", "C-0017": "holdout", "C-0018": "plain"}  # C-0013 failed in November, renders now
EVENTS2 = {
    "C-0013": ["view", "play", "play_25"],  # first counted in December
    "C-0016": ["view"],
    "C-0018": ["view", "play_25", "play_50", "cta_click"],
    "C-0002": ["view", "cta_click"],  # sent in November already: a send of the template, not a customer of the experiment again
}
PAYMENTS2 = [
    {"invoice_ref": "INV2-0013", "customer_id": "", "paid_at": "2026-12-05T08:00:00Z", "amount": "10,00", "channel": "bonifico"},
    {"invoice_ref": "INV2-0018", "customer_id": "", "paid_at": "2026-12-20", "amount": "1.020,00", "channel": "online"},
    {"invoice_ref": "", "customer_id": "C-0017", "paid_at": "2026-12-04", "amount": "30,00", "channel": "sportello"},
    {"invoice_ref": "INV2-0002", "customer_id": "", "paid_at": "2026-12-03", "amount": "40,00", "channel": "online"},
]


def _token2(cid: str) -> str:
    return customer_token(SECRET.encode(), "payment-reminder", RUN2, cid)


@pytest.fixture
def two_runs(campaign, tmp_path, database_url):
    """The campaign plus December's run of the same template and experiment: its manifest, page events and a
    semicolon payments file with decimal commas."""
    from store.store import Store

    invoke, state, _ = campaign
    rows = [{"row": n + 2, "customer_id": cid, "status": "holdout" if arm == "holdout" else "ok", "variant": "friendly", "arm": arm,
             "ref": f"INV2-{cid[2:]}", "token": _token2(cid)} for n, (cid, arm) in enumerate(ARMS2.items())]
    bucket = LocalBucket(tmp_path / "public-dec")
    bucket.put_bytes(keys.run_file(RUN2, "manifest.csv"), csv_bytes(["row", "customer_id", "status", "variant", "arm", "ref", "token"], rows))
    bucket.put_bytes(keys.run_file(RUN2, "summary.json"), json.dumps({"run_id": RUN2, "template": "payment-reminder",
                                                                       "experiment": EXPERIMENT.declaration()}).encode())
    store = Store.open(database_url)
    try:
        for cid, events in EVENTS2.items():
            for kind in events:
                store.add_event(_token2(cid), kind, None, SENT2 + dt.timedelta(hours=2))
    finally:
        store.close()
    imported = invoke("results", "import-run", RUN2, "--from", str(tmp_path / "public-dec"), "--sent-at", "2026-12-02T08:00:00Z", "--state", str(state))
    assert imported.exit_code == 0, imported.output
    payments = tmp_path / "pagamenti-dicembre.csv"
    payments.write_text("".join(";".join(r.values()) + "\r\n" for r in [dict(zip(PAYMENTS2[0], PAYMENTS2[0], strict=True)), *PAYMENTS2]),
                        encoding="utf-8")
    done = invoke("results", "import-payments", str(payments), "--decimal", ",", "--state", str(state))
    assert done.exit_code == 0 and "4 rows, 4 payments added" in done.output, done.output
    return invoke, state


FUNNEL_KEYS = ("sent", "opened", "started", "watched_25", "watched_50", "watched_75", "completed", "chapter", "cta", "pay_started", "paid", "failed")


def test_an_experiment_across_two_runs_counts_each_customer_once_at_their_first_send(two_runs):
    invoke, state = two_runs
    out = invoke("results", "--template", "payment-reminder", "--experiment", "nov-tone", "--format", "json", "--state", str(state))
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    scope = report["scope"]
    assert (scope["template"], scope["experiment"], scope["unit"]) == ("payment-reminder", "nov-tone", "customer")
    assert [(r["run_id"], r["counted"]) for r in scope["runs"]] == [(RUN, 14), (RUN2, 4)]  # December adds C-0013, C-0016, C-0017, C-0018
    arms = {a["name"]: a for a in report["arms"]}
    assert list(arms) == ["video", "plain", "holdout"]
    assert {n: {k: a[k] for k in FUNNEL_KEYS} for n, a in arms.items()} == {
        "video": {"sent": 7, "opened": 6, "started": 4, "watched_25": 4, "watched_50": 3, "watched_75": 2, "completed": 2, "chapter": 1,
                  "cta": 2, "pay_started": 1, "paid": 4, "failed": 1},
        # C-0002's December view and click are not counted; C-0012's payment of 12 December now belongs to December's run
        # (its next send), where C-0012 is not counted again: November's plain customers paid once (C-0001)
        "plain": {"sent": 7, "opened": 5, "started": 3, "watched_25": 3, "watched_50": 2, "watched_75": 1, "completed": 0, "chapter": 1,
                  "cta": 2, "pay_started": 1, "paid": 2, "failed": 0},
        "holdout": {"sent": 4, "opened": 0, "started": 0, "watched_25": 0, "watched_50": 0, "watched_75": 0, "completed": 0, "chapter": 0,
                    "cta": 0, "pay_started": 0, "paid": 3, "failed": 0},
    }
    # days from each customer's own first send: C-0013 on day 3, C-0018 on day 17.67, C-0017 on day 1.67
    assert arms["video"]["paid_within"] == {"7": 3, "14": 3, "30": 4} and arms["plain"]["paid_within"] == {"7": 1, "14": 1, "30": 2}
    assert arms["holdout"]["paid_by_day"][:3] == [0, 0, 1]
    assert arms["plain"]["amount_collected_cents"] == {"EUR": 4500 + 102000}
    comparisons = {(c["a"], c["b"]): c for c in report["comparisons"]}
    video = comparisons[("video", "holdout")]
    assert (video["paid_a"], video["n_a"], video["paid_b"], video["n_b"], video["method"]) == (4, 7, 3, 4, "newcombe")
    # SRM: 7, 7, 4 against 18 × (0.375, 0.375, 0.25); both runs declared the same weights
    chi2 = 2 * (7 - 6.75) ** 2 / 6.75 + (4 - 4.5) ** 2 / 4.5
    assert report["srm"]["observed"] == {"video": 7, "plain": 7, "holdout": 4}
    assert report["srm"]["p"] == pytest.approx(math.exp(-chi2 / 2), abs=1e-9)
    assert video["statement"].startswith("Not at its planned size yet: 4 of 1,000")
    # the experiment alone (every run that carried it) is the same report; a run id and --template together are refused
    alone = json.loads(invoke("results", "--experiment", "nov-tone", "--format", "json", "--state", str(state)).output)
    assert alone["arms"] == report["arms"] and alone["comparisons"] == report["comparisons"]
    both = invoke("results", RUN, "--template", "payment-reminder", "--state", str(state))
    assert both.exit_code == 2 and "not both" in both.output
    none = invoke("results", "--template", "no-such-template", "--state", str(state))
    assert none.exit_code == 2 and "no imported run has it" in " ".join(none.output.split()) and "Traceback" not in none.output


def test_a_template_across_runs_pools_its_sends_and_compares_nothing(two_runs):
    invoke, state = two_runs
    report = json.loads(invoke("results", "--template", "payment-reminder", "--format", "json", "--state", str(state)).output)
    assert report["scope"]["unit"] == "send" and report["comparisons"] == []
    arms = {a["name"]: a for a in report["arms"]}
    assert {n: (a["sent"], a["cta"], a["paid"], a["failed"]) for n, a in arms.items()} == {
        "video": (5 + 7, 2, 3 + 1, 1), "plain": (6 + 7, 1 + 2, 1 + 3, 0), "holdout": (3 + 4, 0, 2 + 1, 0)}
    table = invoke("results", "--template", "payment-reminder", "--state", str(state))
    assert table.exit_code == 0 and "2 runs sent 2026-11-02 to 2026-12-02" in " ".join(table.output.split())
    rows = list(csv.DictReader(io.StringIO(invoke("results", "--experiment", "nov-tone", "--format", "csv", "--state", str(state)).output)))
    assert list(rows[0]) == ["run", "token", "arm", "events", "paid"] and len(rows) == 15 + 4
    assert {r["run"] for r in rows if r["token"] == _token2("C-0018")} == {RUN2} and not any(r["token"] == _token2("C-0002") for r in rows)
    for cid in ARMS2:
        assert cid not in json.dumps(report) and cid not in json.dumps(rows)


@pytest.mark.e2e  # a studio with a user per role: seconds of password hashing
def test_the_studio_shows_a_template_and_an_experiment_across_runs_to_a_viewer(two_runs, settings, database_url, tmp_path):
    from helpers.studio import Staff, studio_app

    invoke, state = two_runs
    app = studio_app(settings, database_url, tmp_path / "studio")
    viewer = Staff(app, "vic")
    index = viewer.get("/results").get_data(as_text=True)
    assert 'href="/results/template/payment-reminder"' in index and 'href="/results/template/payment-reminder?experiment=nov-tone"' in index
    assert 'href="/results/experiment/nov-tone"' in index
    page = viewer.get("/results/template/payment-reminder?experiment=nov-tone")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Results of template payment-reminder, experiment nov-tone" in html and "each customer counted once" in html
    assert '<tr data-arm="video"><td>video</td><td>7</td><td>6</td><td>4</td>' in html and "Newcombe" in html
    for chart in ('id="funnel-chart"', 'id="paid-curve"', 'id="dropoff-chart"'):
        assert chart in html
    twin = viewer.get("/results/experiment/nov-tone", headers={"Accept": "application/json"}).get_json()
    cli = json.loads(invoke("results", "--experiment", "nov-tone", "--format", "json", "--state", str(state)).output)
    assert {k: v for k, v in twin.items() if k != "days_since_send"} == {k: v for k, v in cli.items() if k != "days_since_send"}
    exported = viewer.get("/results/template/payment-reminder/customers.csv?experiment=nov-tone")
    assert exported.status_code == 200 and exported.get_data(as_text=True) == invoke(
        "results", "--template", "payment-reminder", "--experiment", "nov-tone", "--format", "csv", "--state", str(state)).output
    pooled = viewer.get("/results/template/payment-reminder").get_data(as_text=True)
    assert "sends pooled over runs are not independent" in pooled
    assert viewer.get("/results/template/no-such-template").status_code == 404
    assert viewer.get("/results/experiment/bad%20id").status_code == 404


@pytest.mark.browser
def test_the_studio_experiment_page_in_chromium_across_two_runs(two_runs, settings, database_url, tmp_path, chromium):
    from playwright.sync_api import expect

    from helpers.browser import open_page
    from helpers.studio import PASSWORD, studio_app

    invoke, state = two_runs
    app = studio_app(settings, database_url, tmp_path / "studio")
    bad: list[tuple[int, str]] = []
    with serve(app) as url, open_page(chromium, url + "/login", viewport={"width": 1366, "height": 768}) as (page, log):
        page.on("response", lambda r: bad.append((r.status, r.url)) if r.status >= 400 else None)
        page.get_by_label("User name").fill("vic")  # a viewer
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url + "/")
        page.get_by_role("link", name="Results").click()
        page.locator("#across").get_by_role("link", name="experiment nov-tone").click()
        expect(page.locator("h1")).to_have_text("Results of template payment-reminder, experiment nov-tone")
        expect(page.locator("#scope")).to_contain_text(f"{RUN} (sent 2026-11-02, 14 counted)")
        expect(page.locator("#funnel-table tr[data-arm='holdout'] td").nth(1)).to_have_text("4")
        expect(page.locator("#funnel-table tr[data-arm='video'] td").nth(11)).to_have_text("4")
        assert page.locator("#paid-curve polyline").count() == 3
        expect(page.locator("#comparisons")).to_contain_text("Not at its planned size yet: 4 of 1,000")
        with page.expect_download() as download:
            page.get_by_role("link", name="Per-customer CSV").click()
        exported = open(download.value.path(), encoding="utf-8").read()
        assert exported == invoke("results", "--template", "payment-reminder", "--experiment", "nov-tone", "--format", "csv",
                                  "--state", str(state)).output
        assert not log.errors, log.errors
        assert not bad, bad
