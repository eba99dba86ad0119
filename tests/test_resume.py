"""The driver SIGKILLed in the middle of a run (``tailorcast run`` in a subprocess) and started again: it resumes from
the run's journal, nothing complete is rendered again, and the final manifest lists every customer once."""

from __future__ import annotations

import json
import os
import signal
from collections import defaultdict

import pytest

from helpers.driver import finish, manifest, pages, start_run, tiny_customers, wait_for

pytestmark = pytest.mark.e2e  # real local Ray instances started by `tailorcast run`


def _journal_by_session(out, run_id: str) -> dict[str, list[dict]]:
    """The journal's records, per run session (a part's name starts with its session's start time)."""
    sessions = defaultdict(list)
    for part in sorted((out / "runs" / run_id / "journal").glob("*.jsonl")):
        sessions[part.name.split("-")[0]] += [json.loads(line) for line in part.read_text().splitlines()]
    return dict(sessions)


def _summary_line(state) -> dict:
    return [json.loads(line) for line in (state / "run.log").read_text().splitlines() if line.startswith('{"') and '"summary"' in line][-1]


def test_a_sigkilled_driver_resumes_without_rendering_anything_complete_again(tmp_path):
    template, customers = tiny_customers(tmp_path, 80, bad=(33,))
    out, state = tmp_path / "pub", tmp_path / "state"
    # a journal part every 0.2 s: the driver is killed a moment after the 20th page, long before the 79th
    # (with the default 5 s the first part could come after the last page: CI once saw the run end first)
    first = start_run(template, customers, str(out), state, "--workers", "2", "--run-id", "killed", "--journal-seconds", "0.2")
    def journaled_ok() -> set[str]:
        return {r["token"] for records in _journal_by_session(out, "killed").values() for r in records if r["status"] == "ok"}

    wait_for(lambda: journaled_ok() and len(pages(out)) >= 20, timeout=180, what="an ok row in the journal and 20 pages")
    os.kill(first.pid, signal.SIGKILL)  # the driver only: Ray's processes are left to the next start to reap
    first.wait(timeout=30)
    complete = {p.parent.name: p.stat().st_mtime_ns for p in pages(out)}
    assert 20 <= len(complete) < 79, "the run finished before it was killed: give it more customers"
    assert not (out / "runs" / "killed" / "manifest.csv").exists()
    journaled = journaled_ok()
    assert journaled and journaled <= set(complete)

    second = start_run(template, customers, str(out), state, "--workers", "2", "--run-id", "killed")
    assert finish(second) == 0, (state / "run.log").read_text()[-3000:]
    sessions = _journal_by_session(out, "killed")
    assert len(sessions) == 2
    again = sessions[max(sessions)]
    assert not {r["token"] for r in again if r["status"] == "ok"} & set(complete)  # nothing complete was rendered again
    assert not {r.get("token") for r in again} & journaled  # what the journal knew was not even looked at
    assert all(p.stat().st_mtime_ns == complete[p.parent.name] for p in pages(out) if p.parent.name in complete)
    summary = _summary_line(state)
    assert (summary["ok"] + summary["skipped"], summary["invalid"], summary["failed"]) == (79, 1, 0)

    rows = manifest(out, "killed")
    assert len(rows) == 79 and len({r["customer_id"] for r in rows}) == 79 and len(pages(out)) == 79
    assert all(r["status"] in ("ok", "skipped") for r in rows)

    third = start_run(template, customers, str(out), state, "--workers", "2", "--run-id", "killed")  # twice: nothing to do
    assert finish(third) == 0
    summary = _summary_line(state)
    assert (summary["ok"], summary["skipped"]) == (0, 79)
    assert len(manifest(out, "killed")) == 79


def test_sigterm_stops_the_run_with_status_143_and_the_journal_keeps_what_finished(tmp_path):
    template, customers = tiny_customers(tmp_path, 80)
    out, state = tmp_path / "pub", tmp_path / "state"
    run = start_run(template, customers, str(out), state, "--workers", "2", "--run-id", "termed")
    wait_for(lambda: len(pages(out)) >= 30, timeout=180, what="30 pages (batches of 10)")
    run.send_signal(signal.SIGTERM)  # what a scheduler does first
    assert finish(run, timeout=120) == 143
    published = {p.parent.name for p in pages(out)}
    journaled = {r["token"] for records in _journal_by_session(out, "termed").values() for r in records if r["status"] == "ok"}
    assert len(published) < 80 and journaled and journaled <= published  # the journal's last part was written on the way out
