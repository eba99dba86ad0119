"""A run with an experiment (in this process, tiny template): the manifest's arm column, holdout customers without
a page, arm variants that replace the rules' choice; its manifest imported into the results store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import textwrap

import pytest

from helpers.tiny import TINY, write_tiny
from tailorcast.experiments import HOLDOUT, assign_arm

TEMPLATE = TINY.replace("  first_name: {type: text, required: true}\n",
                        "  first_name: {type: text, required: true}\n  invoice_id: {type: text, required: true}\n") + textwrap.dedent("""
    variants:
      - {name: firm, when: "first_name == 'Firm'"}
      - {name: friendly}
    experiment:
      id: tiny-tone
      arms:
        - {name: firm-all, variant: firm}
        - {name: rules}
      holdout: 0.3
""")
IDS = ["C-0001", "C-0002", "C-0004", "C-0005", "C-0011", "C-0014"]  # two customers in each arm and in the holdout


def _run(tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template = load_template(write_tiny(tmp_path / "tiny", TEMPLATE))
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,locale,first_name,invoice_id\n" + "".join(f"{c},en,Ann,INV-{c[2:]}\n" for c in IDS))
    settings = Settings(state_dir=tmp_path / "state", secret=b"results-run-secret-" + b"x" * 32)
    out = tmp_path / "pub"
    summary = run_billing(template, customers, LocalBucket(out), settings, executor=InProcessExecutor())
    return template, settings, out, summary


def test_a_run_with_an_experiment_marks_the_arm_and_publishes_nothing_for_the_holdout(tmp_path):
    template, settings, out, summary = _run(tmp_path)
    arms = {c: assign_arm(template.experiment, c) for c in IDS}
    assert set(arms.values()) == {HOLDOUT, "firm-all", "rules"}, arms  # the ids cover every arm
    manifest = {r["customer_id"]: r for r in csv.DictReader(io.StringIO((out / summary.manifest).read_text()))}
    assert {c: r["arm"] for c, r in manifest.items()} == arms
    assert {c: r["ref"] for c, r in manifest.items()} == {c: f"INV-{c[2:]}" for c in IDS}
    for c, r in manifest.items():
        if arms[c] == HOLDOUT:
            assert (r["status"], r["page"], r["variant"]) == ("holdout", "", "friendly")
            assert r["token"] and not (out / "c" / r["token"]).exists()  # no video, no page
        else:
            assert r["status"] == "ok" and (out / "c" / r["token"] / "index.html").is_file()
            assert r["variant"] == ("firm" if arms[c] == "firm-all" else "friendly")  # the arm's variant replaces the rules' choice
    assert summary.holdout == sum(a == HOLDOUT for a in arms.values()) and summary.ok == len(IDS) - summary.holdout
    declared = json.loads((out / summary.summary).read_text())["experiment"]
    assert declared["id"] == "tiny-tone" and declared["holdout"] == 0.3


def test_the_runs_manifest_imports_into_the_results_store(tmp_path):
    from results.outcomes import run_data
    from results.runs import import_run
    from store.store import Store
    from tailorcast.bucket import LocalBucket

    template, settings, out, summary = _run(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'results.db'}")
    try:
        sent = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
        done = import_run(store.engine, LocalBucket(out), summary.run_id, settings.secret, sent, sent)
        assert (done.customers, done.experiment) == (len(IDS), "tiny-tone")
        again = import_run(store.engine, LocalBucket(out), summary.run_id, settings.secret, None, sent + dt.timedelta(days=3))
        assert again.customers == len(IDS)  # importing again replaces, never doubles
        data = run_data(store.engine, summary.run_id)
    finally:
        store.close()
    assert data.info.sent_at == sent and data.info.experiment["id"] == "tiny-tone"  # the first import's send date is kept
    expected: dict[tuple, int] = {}
    for c in IDS:
        arm = assign_arm(template.experiment, c)
        key = (arm, "firm" if arm == "firm-all" else "friendly", "holdout" if arm == HOLDOUT else "ok")
        expected[key] = expected.get(key, 0) + 1
    assert data.sizes == expected


@pytest.mark.e2e
def test_a_runs_manifest_is_imported_from_s3_over_http(tmp_path, s3_server, monkeypatch):
    import boto3
    from click.testing import CliRunner

    from tailorcast.cli import main

    template, settings, out, summary = _run(tmp_path)
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket="results-bills")
    for name in ("manifest.csv", "summary.json"):
        client.put_object(Bucket="results-bills", Key=f"2026-11/runs/{summary.run_id}/{name}", Body=(out / "runs" / summary.run_id / name).read_bytes())
    monkeypatch.setenv("TAILORCAST_SECRET", settings.secret.decode())
    monkeypatch.delenv("TAILORCAST_DATABASE_URL", raising=False)
    state = str(tmp_path / "results-state")
    done = CliRunner().invoke(main, ["results", "import-run", summary.run_id, "--from", "s3://results-bills/2026-11", "--endpoint-url", s3_server,
                                     "--sent-at", "2026-11-02", "--state", state])
    assert done.exit_code == 0, done.output
    assert f"run {summary.run_id}: {len(IDS)} customers imported; experiment tiny-tone: firm-all 2, holdout 2, rules 2" in done.output
    missing = CliRunner().invoke(main, ["results", "import-run", "payment-reminder-000000000000", "--from", "s3://results-bills/2026-11",
                                        "--endpoint-url", s3_server, "--state", state])
    assert missing.exit_code == 2 and "no manifest there" in " ".join(missing.output.split())
