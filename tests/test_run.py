"""The billing run without Ray: the in-process executor runs the same tasks on the tiny template.

Manifest, error report, a failing customer that does not stop the run, resume on a rerun, and a rerun that
rebuilds the pages when an input of theirs changed (player.js, the page CSS, the page template).
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from helpers.tiny import TINY, write_tiny

# one more field, read by the personal scene: parts = 0 makes that scene's expression fail for one customer
RUN_TINY = TINY.replace("  first_name: {type: text, required: true}\n",
                        "  first_name: {type: text, required: true}\n  parts: {type: integer, required: true}\n").replace('text: "{{ first_name }}"', 'text: "{{ first_name }} {{ 12 // parts }}"')
ROWS = ["customer_id,locale,first_name,parts",
        "C1,en,Ann,3",  # ok
        "C2,en,Bob,three",  # invalid: not a whole number
        "C3,en,Cy,0",  # valid row, but its scene divides by zero: that customer fails
        "C4,en,Di,4"]  # beyond --limit 3


@pytest.fixture
def tiny_run(tmp_path):
    """(template, customers file, settings, bucket folder) for runs in this process."""
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template

    assert RUN_TINY.count("parts") == 2, "the tiny template changed: update RUN_TINY"
    template = load_template(write_tiny(tmp_path / "tiny", RUN_TINY))
    customers = tmp_path / "customers.csv"
    customers.write_text("\n".join(ROWS) + "\n")
    settings = Settings(state_dir=tmp_path / "state", secret=b"run-test-secret-" + b"x" * 32)
    return template, customers, settings, tmp_path / "pub"


def _run(tiny_run, **kw):
    from tailorcast.bucket import LocalBucket
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings, out = tiny_run
    return run_billing(template, customers, LocalBucket(out), settings, limit=3, executor=InProcessExecutor(), **kw)


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_in_process_run_writes_manifest_error_report_and_pages(tiny_run):
    out = tiny_run[3]
    summary = _run(tiny_run)
    assert (summary.rows, summary.ok, summary.skipped, summary.failed, summary.invalid) == (3, 1, 0, 1, 1)
    manifest = {r["customer_id"]: r for r in _csv(out / summary.manifest)}
    assert [(r["row"], r["status"]) for r in manifest.values()] == [("2", "ok"), ("4", "failed")]  # C4: beyond the limit
    ok = manifest["C1"]
    assert ok["page"] == f"c/{ok['token']}/index.html" and ok["video"] == f"c/{ok['token']}/video-wide.mp4"  # the default rendition
    assert sorted(p.name for p in (out / "c" / ok["token"]).iterdir()) == [
        "captions.en.vtt", "index.html", "poster-tall.jpg", "poster-wide.jpg", "video-tall.mp4", "video-wide.mp4"]
    errors = {r["customer_id"]: r for r in _csv(out / summary.errors)}
    assert errors["C2"]["row"] == "3" and errors["C2"]["column"] == "parts" and "not a whole number" in errors["C2"]["reason"]
    assert errors["C3"]["row"] == "4" and "scene 'name'" in errors["C3"]["reason"] and "division" in errors["C3"]["reason"]
    assert not (out / "c" / manifest["C3"]["token"] / "index.html").exists()  # a failed customer publishes no page
    assert summary.shared_segments == 2  # the shared scene, once per rendition, published to shared/seg/


def test_rerun_skips_published_customers_and_retries_failed_ones(tiny_run):
    out = tiny_run[3]
    first = _run(tiny_run)
    page = out / _csv(out / first.manifest)[0]["page"]
    before = page.read_bytes()
    again = _run(tiny_run)
    assert again.run_id == first.run_id
    assert (again.ok, again.skipped, again.failed, again.invalid, again.resumed) == (0, 1, 1, 1, 1)
    manifest = _csv(out / again.manifest)
    assert [(r["status"], r["attempts"]) for r in manifest] == [("ok", "1"), ("failed", "1")]  # the final manifest: each customer once
    assert page.read_bytes() == before


@pytest.mark.parametrize("name", ["player.js", "site.css"])
def test_changed_page_file_rebuilds_the_pages_on_rerun(tiny_run, tmp_path, monkeypatch, name):
    """The build hash covers the shared page files: after player.js or the CSS changes, no stale page is skipped."""
    import microsite.build

    out = tiny_run[3]
    first = _run(tiny_run)
    static = tmp_path / "static"
    shutil.copytree(microsite.build.STATIC, static)
    (static / name).write_text((static / name).read_text() + "\n/* changed */\n")
    monkeypatch.setattr(microsite.build, "STATIC", static)
    again = _run(tiny_run)
    assert (again.ok, again.skipped) == (1, 0)
    row = _csv(out / again.manifest)[0]
    html = (out / row["page"]).read_text()
    new = next(f.key for f in microsite.build.shared_files(tiny_run[0]).values() if f.key.endswith(Path(name).suffix))
    assert (out / new).is_file() and new.split("/")[-1] in html
    assert first.run_id == again.run_id


def test_changed_page_template_rebuilds_the_pages_on_rerun(tiny_run):
    template, customers, settings, out = tiny_run
    from tailorcast.spec.load import load_template

    first = _run(tiny_run)
    (template.root / "page.html").write_text((template.root / "page.html").read_text().replace("<p>", "<p class='x'>"))
    changed = load_template(template.root)
    again = _run((changed, customers, settings, out), run_id=first.run_id)  # same tokens, new page
    assert (again.ok, again.skipped) == (1, 0)
    assert "<p class='x'>" in (out / _csv(out / again.manifest)[0]["page"]).read_text()


def test_in_process_executor_raises_a_tasks_error_from_get_and_from_dependent_tasks():
    from workers.executors import InProcessExecutor

    ex = InProcessExecutor()
    ok = ex.submit(lambda a, b: a + b, ex.put(2), 3)
    bad = ex.submit(lambda: 1 // 0)
    after = ex.submit(lambda x: x, bad)
    assert ex.get(ok) == 5 and ex.wait([ok, bad]) == [ok]
    for handle in (bad, after):
        with pytest.raises(ZeroDivisionError):
            ex.get(handle)


def test_a_failed_shared_task_fails_its_customers_not_the_run(tiny_run, monkeypatch):
    import workers.run
    from tailorcast.errors import RenderError

    def broken(*args):
        raise RenderError("scene 'hello'", "ffmpeg exited with 1")

    monkeypatch.setattr(workers.run, "render_shared_scenes", broken)
    summary = _run(tiny_run)
    assert (summary.ok, summary.failed, summary.invalid, summary.shared_segments) == (0, 2, 1, 0)
    rows = _csv(tiny_run[3] / summary.manifest)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all(r["error"].startswith("worker error: ") and "ffmpeg exited with 1" in r["error"] for r in rows)


def test_live_mode_run_publishes_base_videos_and_live_stills_with_readable_keys(tiny_run, tmp_path):
    import json
    import re

    from PIL import Image

    from tailorcast.spec.load import load_template

    live_yaml = RUN_TINY.replace("video:\n  fps: 10\n", "video:\n  fps: 10\n  live: true\n")
    assert live_yaml != RUN_TINY
    template = load_template(write_tiny(tmp_path / "live-tiny", live_yaml))
    out = tiny_run[3]
    summary = _run((template, *tiny_run[1:]))
    assert (summary.ok, summary.failed) == (1, 1)
    row = _csv(out / summary.manifest)[0]
    html = (out / row["page"]).read_text()
    data = json.loads(re.search(r'<script type="application/json" id="tc-timeline">(.*?)</script>', html).group(1))
    for rendition, (width, height) in (("wide", (96, 64)), ("tall", (64, 96))):
        live = data["live"][rendition]
        assert {"name", "width", "height", "orientation", "fps", "slideDistance", "rtl", "src", "sheets", "stills"} == set(live)
        assert (live["width"], live["height"]) == (width, height)
        assert (out / "c" / row["token"] / live["src"]).resolve().is_file()  # the base video, in shared/video/
        assert "/shared/video/" in (out / "c" / row["token"] / live["src"]).resolve().as_posix()
        assert live["stills"], "the personal layer is a live still"
        assert [s["src"] for s in live["sheets"]] == [f"o/{rendition}.webp"]  # one image per rendition
        sheet = Image.open(out / "c" / row["token"] / live["sheets"][0]["src"])
        assert sheet.size == (live["sheets"][0]["width"], live["sheets"][0]["height"])
        for still in live["stills"]:
            assert set(still) == {"x", "y", "width", "height", "c", "sheet", "sx", "sy", "start", "end", "enter", "enterFrames", "exit",
                                  "exitFrames"}
            left, top, w, h = still["c"]  # its drawn part, in the sheet at (sx, sy)
            assert still["sheet"] == 0 and 0 <= left and left + w <= still["width"] and 0 <= top and top + h <= still["height"]
            assert still["sx"] + w <= sheet.width and still["sy"] + h <= sheet.height
            assert 0 <= still["start"] < still["end"] <= 14
        pop = live["stills"][0]
        assert (pop["enter"], pop["enterFrames"], pop["exit"], pop["exitFrames"]) == ("pop", 3, "fade", 3)


# --- the journal, resume, retries, disk -----------------------------------------------------------


class CountingBucket:
    """A LocalBucket that counts reads of customers' files and can fail the first tries of some writes."""

    def __init__(self, root, fail_first: int = 0, error=None, on_put=None):
        from tailorcast.bucket import LocalBucket

        self.inner = LocalBucket(root)
        self.customer_reads = 0
        self.fail_first, self.error, self.on_put = fail_first, error, on_put
        self.tries: dict[str, int] = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get_bytes(self, key):
        self.customer_reads += key.startswith("c/")
        return self.inner.get_bytes(key)

    def _maybe_fail(self, key):
        self.tries[key] = self.tries.get(key, 0) + 1
        if key.startswith("c/") and self.tries[key] <= self.fail_first:
            raise self.error(key)
        if self.on_put and key.startswith("c/"):
            self.on_put(key)

    def put_bytes(self, key, data):
        self._maybe_fail(key)
        self.inner.put_bytes(key, data)

    def put_file(self, key, path):
        self._maybe_fail(key)
        self.inner.put_file(key, path)

    def put_new(self, key, data):
        self._maybe_fail(key)
        return self.inner.put_new(key, data)


def _run_on(tiny_run, bucket, **kw):
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings, _out = tiny_run
    return run_billing(template, customers, bucket, settings, limit=3, executor=InProcessExecutor(), **kw)


def test_the_journal_is_written_in_parts_as_the_run_goes_and_the_manifest_is_assembled_from_it(tiny_run):
    import pyarrow.parquet as pq

    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from workers.journal import MANIFEST_FIELDS, read_records

    out = tiny_run[3]
    summary = _run(tiny_run, journal_every=1, cdn_base_url="https://bills.example.com/oct/")
    bucket = LocalBucket(out)
    assert summary.journal_parts == 3 and len(bucket.list_keys(keys.journal_prefix(summary.run_id))) == 3  # one part per outcome
    assert sorted((r["row"], r["status"]) for r in read_records(bucket, summary.run_id)) == [(2, "ok"), (3, "invalid"), (4, "failed")]
    rows = _csv(out / summary.manifest)
    assert list(rows[0]) == MANIFEST_FIELDS
    ok = rows[0]
    assert ok["page"] == f"https://bills.example.com/oct/c/{ok['token']}/index.html"
    assert ok["video"].endswith("/video-wide.mp4") and ok["poster"].endswith("/poster-wide.jpg") and ok["attempts"] == "1"
    assert float(ok["cpu_seconds"]) > 0 and int(ok["bytes"]) > 1000 and ok["node"]  # "local", or the Ray node of this process
    assert rows[1]["page"] == rows[1]["video"] == "" and "division" in rows[1]["error"]
    table = pq.read_table(out / summary.manifest_parquet)
    assert table.column_names == MANIFEST_FIELDS and table.column("row").to_pylist() == [2, 4]
    assert table.column("attempt_errors").to_pylist() == [[], []]
    assert summary.cpu_seconds > 0 and summary.bytes_uploaded == int(ok["bytes"]) and summary.manifest_counts == {"ok": 1, "invalid": 1, "failed": 1}
    import json
    assert json.loads((out / summary.summary).read_text())["bytes_uploaded"] == summary.bytes_uploaded


def test_a_rerun_learns_what_is_done_from_the_journal_not_from_a_request_per_customer(tiny_run):
    out = tiny_run[3]
    _run(tiny_run)
    bucket = CountingBucket(out)
    again = _run_on(tiny_run, bucket)
    assert (again.resumed, again.ok, again.failed) == (1, 0, 1)
    assert bucket.customer_reads == 1  # only the failed customer's job looked for its page


def test_force_renders_and_publishes_again(tiny_run):
    out = tiny_run[3]
    first = _run(tiny_run)
    page = out / _csv(out / first.manifest)[0]["page"]
    page.write_text(page.read_text().replace("<body>", "<body><!-- stale -->"))
    again = _run(tiny_run, force=True)
    assert (again.ok, again.skipped, again.resumed) == (1, 0, 0)
    assert "stale" not in page.read_text()


def test_transient_bucket_errors_are_retried_with_backoff_and_every_attempt_is_kept(tiny_run, monkeypatch):
    import workers.job
    from tailorcast.errors import TransientError

    waits = []
    monkeypatch.setattr(workers.job.time, "sleep", waits.append)
    bucket = CountingBucket(tiny_run[3], fail_first=2, error=lambda key: TransientError("s3://bills/x", "SlowDown: Please reduce your request rate"))
    summary = _run_on(tiny_run, bucket)
    assert (summary.ok, summary.failed, summary.retried) == (1, 1, 1)
    ok = _csv(tiny_run[3] / summary.manifest)[0]
    uploads = 6  # videos and posters of two renditions, captions, page
    assert ok["status"] == "ok" and ok["attempts"] == str(1 + 2 * uploads)
    errors = ok["attempt_errors"].split(" | ")
    assert len(errors) == 2 * uploads and all("SlowDown" in e for e in errors) and errors[-1].startswith("upload page")
    assert waits[:2] == [0.5, 1.0] and max(waits) <= workers.job.BACKOFF_CAP_S
    assert [workers.job.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]  # exponential, capped


def test_a_permanent_bucket_error_is_recorded_once_and_never_retried(tiny_run):
    from tailorcast.errors import StorageError

    bucket = CountingBucket(tiny_run[3], fail_first=99, error=lambda key: StorageError("s3://bills/x", "AccessDenied: check the policy"))
    summary = _run_on(tiny_run, bucket)
    assert (summary.ok, summary.failed) == (0, 2)
    from tailorcast import keys

    # every object written once; the run's lease object is rewritten on purpose (taken, a heartbeat, released)
    assert max(n for key, n in bucket.tries.items() if not key.startswith(keys.lease_prefix(summary.run_id))) == 1
    errors = {r["customer_id"]: r for r in _csv(tiny_run[3] / summary.errors)}
    assert "AccessDenied" in errors["C1"]["reason"] and errors["C1"]["attempts"] == "1"


def test_a_worker_holds_one_customer_on_disk_and_leaves_no_temporary_files(tiny_run, tmp_path, monkeypatch):
    """Each job uploads before the next one renders, and its folder and personal segments go when it ends,
    whether it succeeded or failed: a slow bucket slows rendering instead of filling the disk."""
    import tempfile

    from renderer.cache import PERSONAL

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    cache = tiny_run[2].cache_dir
    seen = []

    def during_upload(key):
        seen.append((len(list(tmp.glob("tc-customer-*"))), len({p.parent.parent for p in (cache / PERSONAL).rglob("*.mp4")})))

    summary = _run_on(tiny_run, CountingBucket(tiny_run[3], on_put=during_upload))
    assert (summary.ok, summary.failed) == (1, 1)
    assert seen and set(seen) == {(1, 1)}  # one customer's folder and one customer's personal segments, during its uploads
    assert list(tmp.iterdir()) == []  # removed after success and after failure
    assert list((cache / PERSONAL).rglob("*.mp4")) == []


def test_batches_keep_tasks_few_on_big_runs_and_spread_small_ones():
    from workers.batches import MAX_BATCH, MAX_TASKS, batch_size

    assert batch_size(8, 2, 2.0) == 1  # 8 tasks for 2 CPUs
    assert batch_size(300, 2, 0.1) == 38  # every CPU gets four tasks
    assert batch_size(10_000, 2, 2.0) == 10  # about 20 s of work per task
    assert batch_size(10_000, 2, 0.05) == 400
    assert batch_size(10_000_000, 64, 2.0) == 10_000_000 // MAX_TASKS  # never more than MAX_TASKS tasks
    assert batch_size(None, 8, 0.001) == MAX_BATCH


def test_shared_run_state_is_resolved_once_per_process(monkeypatch):
    import workers.batches
    from workers.executors import InProcessExecutor

    calls = []
    real = workers.batches._resolve
    monkeypatch.setattr(workers.batches, "_resolve", lambda h: calls.append(h) or real(h))
    monkeypatch.setattr(workers.batches, "_PROCESS", workers.batches.OrderedDict())
    shared = workers.batches.Shared("run:x:1", InProcessExecutor().put({"template": "big"}))
    assert [shared.value() for _ in range(3)] == [{"template": "big"}] * 3
    assert len(calls) == 1


def test_done_rows_keep_the_latest_outcome_per_row_in_a_compact_array():
    from workers.journal import DoneRows

    done = DoneRows()
    done.set(5, "ab" * 16)
    done.set(5000, "cd" * 16)
    assert done.has(5, "ab" * 16) and not done.has(5, "cd" * 16) and not done.has(6, "ab" * 16) and len(done) == 2
    done.set(5, None)  # a later failed record
    assert not done.has(5, "ab" * 16) and len(done) == 1


def test_the_final_manifest_lists_each_row_once_the_latest_record_winning(tmp_path, monkeypatch):
    import workers.journal
    from tailorcast.bucket import LocalBucket
    from workers.journal import Journal, assemble

    monkeypatch.setattr(workers.journal, "CHUNK_ROWS", 3)  # several spill files
    bucket = LocalBucket(tmp_path)
    clock = iter(range(100, 10_000)).__next__
    first = Journal(bucket, "r1", every=2, clock=clock)
    for row in (9, 2, 5, 3):
        first.add({"row": row, "customer_id": f"C{row}", "status": "failed", "error": "SlowDown", "attempts": 5})
    first.close()
    second = Journal(bucket, "r1", every=2, clock=clock)
    for row in (5, 2, 7):
        second.add({"row": row, "customer_id": f"C{row}", "status": "ok", "page": "p", "attempts": 1})
    second.add({"row": 4, "customer_id": "=HYPERLINK(1)", "status": "invalid", "column": "kwh", "error": "not a number"})
    second.close()
    counts = assemble(bucket, "r1").counts
    assert counts == {"ok": 3, "failed": 2, "invalid": 1}
    rows = _csv(tmp_path / "runs" / "r1" / "manifest.csv")
    assert [(r["row"], r["status"]) for r in rows] == [("2", "ok"), ("3", "failed"), ("5", "ok"), ("7", "ok"), ("9", "failed")]
    errors = _csv(tmp_path / "runs" / "r1" / "errors.csv")
    assert [(r["row"], r["customer_id"], r["reason"]) for r in errors] == [("3", "C3", "SlowDown"), ("4", "'=HYPERLINK(1)", "not a number"),
                                                                           ("9", "C9", "SlowDown")]


@pytest.mark.parametrize(("failed", "ok", "status"), [(0, 1, 0), (1, 1, 1), (0, 0, 1)])
def test_run_log_format_json_writes_log_progress_and_summary_lines_and_the_exit_status(tmp_path, monkeypatch, failed, ok, status):
    import json
    import logging

    from click.testing import CliRunner

    import workers.run
    from helpers.samples import SAMPLE_CSV, TEMPLATE_DIR
    from tailorcast.cli import main
    from workers.job import CustomerResult
    from workers.run import RunSummary

    def fake_run_billing(template, customers, bucket, settings, on_progress=None, **kwargs):
        logging.getLogger("tailorcast.run").warning("run r1 row 7: failed", extra={"run_id": "r1", "row": 7})
        logging.getLogger("tailorcast.run").debug("row 7 is customer CUST-00007")  # personal data: debug only
        on_progress(1, 2, CustomerResult(7, "CUST-00007", "ok"))
        return RunSummary("r1", template.name, template.version, rows=2, ok=ok, failed=failed, invalid=1, cpu_seconds=3.5, bytes_uploaded=10)

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(workers.run, "run_billing", fake_run_billing)
    result = CliRunner().invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV), "--out", str(tmp_path / "out"), "--log-format", "json"])
    assert result.exit_code == status, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines and len(lines) == len(result.output.splitlines())  # nothing but JSON lines
    log = next(x for x in lines if x.get("message") == "run r1 row 7: failed")
    assert (log["level"], log["run_id"], log["row"]) == ("warning", "r1", 7)
    progress = next(x for x in lines if x.get("event") == "progress")
    assert (progress["done"], progress["total"], progress["ok"]) == (1, 2, 1)
    summary = lines[-1]
    assert summary["event"] == "summary" and (summary["ok"], summary["failed"], summary["invalid"], summary["exit_status"]) == (ok, failed, 1, status)
    assert "CUST-00007" not in result.output


def test_run_quiet_prints_nothing_on_success(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import workers.run
    from helpers.samples import SAMPLE_CSV, TEMPLATE_DIR
    from tailorcast.cli import main
    from workers.run import RunSummary

    seen = {}

    def fake_run_billing(template, customers, bucket, settings, **kwargs):
        seen.update(kwargs)
        return RunSummary("r1", template.name, template.version, rows=1, ok=1)

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(workers.run, "run_billing", fake_run_billing)
    result = CliRunner().invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV), "--out", str(tmp_path / "out"), "--quiet",
                                       "--force", "--cdn-base-url", "https://bills.example.com"])
    assert result.exit_code == 0 and result.output == ""
    assert (seen["force"], seen["cdn_base_url"]) == (True, "https://bills.example.com")


def test_a_page_write_tried_again_after_a_lost_answer_stores_the_page_once(tmp_path):
    from tailorcast.bucket import LocalBucket

    bucket = LocalBucket(tmp_path)
    key = "c/" + "A" * 32 + "/index.html"
    assert bucket.put_new(key, b"<p>1</p>") is True
    assert bucket.put_new(key, b"<p>2</p>") is False  # the retry of a write that happened: nothing changes
    assert bucket.get_bytes(key) == b"<p>1</p>" and [p.name for p in (tmp_path / "c" / ("A" * 32)).iterdir()] == ["index.html"]


def test_the_run_asks_the_autoscaler_for_a_cpu_per_batch_left_and_for_nothing_at_the_end(tmp_path, monkeypatch):
    import workers.run
    from tailorcast.bucket import LocalBucket
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    class Autoscaled(InProcessExecutor):
        asked: list[int] = []

        def request(self, cpus):
            self.asked.append(cpus)

    monkeypatch.setattr(workers.run, "CAPACITY_EVERY_S", 0.0)  # ask after every batch
    template = load_template(write_tiny(tmp_path / "tiny"))
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,locale,first_name\n" + "".join(f"C{n},en,N{n}\n" for n in range(10)))
    ex = Autoscaled()
    summary = run_billing(template, customers, LocalBucket(tmp_path / "pub"), Settings(state_dir=tmp_path / "s", secret=b"s" * 40),
                          executor=ex, batch=2)
    assert (summary.ok, summary.batches) == (10, 5)
    assert ex.asked[:4] == [5, 4, 3, 2]  # after each full batch: one CPU for it and one per batch still to come
    assert ex.asked[-1] == 0  # everything submitted: nothing more to ask for


@pytest.mark.parametrize("force", [False, True])
def test_a_page_rebuilt_over_an_older_one_leaves_no_still_or_captions_it_does_not_use(tiny_run, force):
    """Baked, then the template turns live (bake: false) under the same run id: the rebuilt folder loses the still
    files of an older renderer and a former language's captions, keeps the videos and posters (``tailorcast bake``
    writes those too, for customers who asked), and a first publish lists nothing. --force reads no page first,
    yet finds one there when it writes its own: the same clean-up."""
    from tailorcast.bucket import LocalBucket
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings, out = tiny_run

    class Listing(LocalBucket):
        listed: list = []

        def list_keys(self, prefix):
            self.listed.append(prefix)
            return super().list_keys(prefix)

    first = run_billing(template, customers, Listing(out), settings, limit=3, executor=InProcessExecutor())
    row = _csv(out / first.manifest)[0]
    folder = out / "c" / row["token"]
    assert (folder / "video-wide.mp4").is_file() and not [p for p in Listing.listed if p.startswith("c/")]
    (folder / "o").mkdir()
    (folder / "o" / "wide-0.webp").write_bytes(b"a still of renderer version 7")
    (folder / "captions.fr.vtt").write_text("WEBVTT\n\nla langue d'avant\n")
    (template.root / "template.yaml").write_text((template.root / "template.yaml").read_text().replace(
        "  profile: {preset: ultrafast, crf: 30}\n", "  profile: {preset: ultrafast, crf: 30}\n  bake: false\n"))
    live = load_template(template.root)
    again = run_billing(live, customers, Listing(out), settings, limit=3, executor=InProcessExecutor(), run_id=first.run_id,
                        force=force)
    assert (again.ok, again.skipped) == (1, 0)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "captions.en.vtt", "index.html", "o/tall.webp", "o/wide.webp",
        "poster-tall.jpg", "poster-wide.jpg", "video-tall.mp4", "video-wide.mp4"]
    assert [p for p in Listing.listed if p.startswith("c/")] == [f"c/{row['token']}/"]  # one LIST, for the rebuilt page


def test_a_clean_up_that_fails_leaves_the_customer_published(tiny_run, caplog):
    """No permission to delete (or an outage): the rebuilt page is out, so the customer is ok; the failure is noted."""
    import logging

    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import StorageError
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings, out = tiny_run
    caplog.set_level(logging.WARNING, logger="tailorcast.job")  # whatever level an earlier CLI test left on the root

    class NoDelete(LocalBucket):
        def delete(self, key):
            raise StorageError(self.describe(key), "AccessDenied: access denied")

    first = run_billing(template, customers, NoDelete(out), settings, limit=3, executor=InProcessExecutor())
    row = _csv(out / first.manifest)[0]
    stale = out / "c" / row["token"] / "captions.fr.vtt"
    stale.write_text("WEBVTT\n")
    (template.root / "page.html").write_text((template.root / "page.html").read_text().replace("<p>", "<p class='x'>"))
    from tailorcast.spec.load import load_template

    again = run_billing(load_template(template.root), customers, NoDelete(out), settings, limit=3, executor=InProcessExecutor(),
                        run_id=first.run_id)
    assert (again.ok, again.failed) == (1, 1)  # C1 rebuilt and published; C3 fails as it always does
    assert stale.exists() and "could not all be removed" in caplog.text and row["token"] not in caplog.text
