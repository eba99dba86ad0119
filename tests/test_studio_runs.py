"""Runs from the studio: the command it starts, progress read from the run's own lines, starting, following,
cancelling and downloading (real ``tailorcast run`` processes, e2e), and one customer published on demand."""

from __future__ import annotations

import io
import json
import os
import re
import time

import pytest

from helpers.samples import REMINDER_DIR, SAMPLE_CSV, pick_rows
from helpers.studio import Staff, seeded_app, state
from helpers.tiny import PAGE, STRINGS, TINY
from studio.launcher import Launcher, Progress, new_run_id, run_command
from tailorcast.keys import run_file


@pytest.fixture
def app(settings, studio_seed, tmp_path):
    return seeded_app(settings, studio_seed, tmp_path, run_workers=1)


def _approve(app, name="payment-reminder"):
    st = state(app)
    v = st.versions.latest(name)
    st.versions.submit(v.id, "dana", st.now())
    return st.versions.decide(v.id, "abe", True, "fine", st.now())


def test_the_run_command_is_tailorcast_run_on_the_exported_version(tmp_path):
    cmd = run_command("/py", tmp_path / "v", "in.csv", "public/", "r-1", tmp_path / "state", None, 2, True)
    assert cmd == ["/py", "-m", "tailorcast.cli", "run", str(tmp_path / "v"), "--customers", "in.csv", "--out", "public/", "--run-id", "r-1",
                   "--state", str(tmp_path / "state"), "--workers", "2", "--log-format", "json"]
    joined = run_command("/py", tmp_path / "v", "s3://b/x.csv", "s3://b/out", "r-1", tmp_path, "auto", 2, False)
    assert joined[-2:] == ["--ray-address", "auto"]


def test_a_run_id_is_a_valid_bucket_run_id():
    rid = new_run_id("Payment_Reminder", 1_800_000_000)
    assert re.fullmatch(r"payment-reminder-20270115-\d{6}-[0-9a-f]{4}", rid)
    assert run_file(rid, "manifest.csv").startswith(f"runs/{rid}/")


def test_progress_comes_from_the_run_s_json_lines_and_journal(app, tmp_path):
    from tailorcast.jsonlog import json_line

    st = state(app)
    v = st.versions.latest("payment-reminder")
    run = st.runs.add("r-1", v.id, "payment-reminder", "upload: x.csv", str(tmp_path / "pub"), str(tmp_path), "olga", st.now())
    folder = st.launcher.folder("r-1")
    folder.mkdir(parents=True)
    with open(folder / "log.txt", "w") as log:
        log.write("starting Ray…\n")
        json_line("progress", stream=log, done=3, total=10, rate=0.5, eta_seconds=14, ok=2, skipped=0, failed=1, invalid=0)
        log.write(json.dumps({"level": "warning", "row": 4, "message": "row 4: render failed: ffmpeg exited 1"}) + "\n")
    p = st.launcher.progress(run)
    assert (p.state, p.done, p.total, p.counts["failed"]) == ("running", 3, 10, 1)
    assert p.failures == [(4, "row 4: render failed: ffmpeg exited 1")] and "starting Ray" in p.log_tail
    journal = tmp_path / "pub" / "runs" / "r-1" / "journal"
    journal.mkdir(parents=True)
    (journal / "0000000000001-000001.jsonl").write_text("".join(json.dumps({"row": r, "status": s, "error": e}) + "\n" for r, s, e in
                                                                   [(2, "ok", ""), (3, "ok", ""), (4, "failed", "ffmpeg"), (5, "ok", ""), (6, "invalid", "bad cell")]))
    p = st.launcher.progress(run)
    assert p.done == 5 and p.counts == {"ok": 3, "skipped": 0, "failed": 1, "invalid": 1}
    assert Progress("running", 10, {"ok": 5}, seconds=10).eta == 10


@pytest.mark.parametrize("form, status, message", [
    ({}, 400, "either a CRM file to upload or a bucket path"),
    ({"bucket_path": "/etc/passwd"}, 400, "must look like s3://"),
    ({"bucket_path": "s3://b/x.csv", "out": "../../etc"}, 400, "must be a folder path"),
    ({"bucket_path": "s3://b/x.csv", "customers": (io.BytesIO(b"x"), "x.csv")}, 400, "not both"),
])
def test_a_run_needs_one_input_and_a_sane_output(app, form, status, message):
    v = _approve(app)
    resp = Staff(app, "olga").post("/runs", {"version": v.id, **form}, content_type="multipart/form-data")
    assert resp.status_code == status and message in resp.get_data(as_text=True)
    assert state(app).runs.history() == []


@pytest.mark.e2e  # a whole run in this process, ffmpeg included
def test_one_customer_published_on_demand_plays_in_a_sandboxed_phone_frame(app):
    from studio.zips import write_zip

    dana = Staff(app, "dana")
    files = {"template.yaml": TINY.encode(), "strings/en.yaml": STRINGS.encode(), "page.html": PAGE.encode(),
             "sample-customers.csv": b"customer_id,locale,first_name\nT-1,en,Ada\n"}
    assert dana.post("/upload", {"zip": (io.BytesIO(write_zip("tiny", files)), "tiny.zip")}, content_type="multipart/form-data").status_code == 303
    v = state(app).versions.latest("tiny")
    started = dana.post("/t/tiny/render", {"v": v.id, "source": "sample:sample-customers.csv", "row": 2})
    assert started.status_code == 303
    url = started.headers["Location"]
    deadline = time.time() + 120
    while (job := dana.get(url, headers={"Accept": "application/json"}).get_json())["state"] == "rendering" and time.time() < deadline:
        time.sleep(0.2)
    assert job["state"] == "done", job
    page = app.test_client().get(job["page"])  # no session: the key is the capability, as in the sandboxed frame
    assert page.status_code == 200 and b"Ada" in page.data
    assert page.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    video = app.test_client().get(job["videos"]["wide"])
    assert video.status_code == 200 and video.mimetype == "video/mp4" and len(video.data) > 1000
    key = url.rsplit("/", 1)[1]
    assert app.test_client().get(f"/preview-site/{key}/runs/x/manifest.csv").status_code == 404  # only c/ and shared/
    assert app.test_client().get(f"/preview-site/{'x' * 32}/c/").status_code == 404


VARIANT_TINY = TINY.replace("scenes:\n", """variants:
  - {name: gentle, when: "first_name == 'Ada'"}
  - {name: stern}
scenes:
""", 1) + """  - id: stern-only
    duration: 0.4
    when: "variant == 'stern'"
    layers:
      - {type: text, text: "Pay now", box: {x: 0.5, y: 0.5, w: 0.9, h: 0.4}}
    say: ["Pay now, stern"]
"""


def _tiny_render(app, dana, form: dict) -> tuple[str, dict, list[dict]]:
    """Start a render of the variant tiny template's row 2 (Ada: the rules pick 'gentle') and poll its JSON twin
    until it ends: (key, last answer, every answer while it rendered)."""
    started = dana.post("/t/vtiny/render", {"v": state(app).versions.latest("vtiny").id, "source": "sample:sample-customers.csv",
                                            "row": 2, **form})
    assert started.status_code == 303, started.get_data(as_text=True)
    url = started.headers["Location"]
    seen, deadline = [], time.time() + 120
    while (job := dana.get(url, headers={"Accept": "application/json"}).get_json())["state"] == "rendering" and time.time() < deadline:
        seen.append(job)
        time.sleep(0.02)
    return url.rsplit("/", 1)[1], job, seen


@pytest.fixture
def vtiny(app):
    from studio.zips import write_zip

    dana = Staff(app, "dana")
    files = {"template.yaml": VARIANT_TINY.replace("name: tiny", "name: vtiny", 1).encode(), "strings/en.yaml": STRINGS.encode(),
             "page.html": PAGE.encode(), "sample-customers.csv": b"customer_id,locale,first_name\nT-1,en,Ada\n"}
    assert dana.post("/upload", {"zip": (io.BytesIO(write_zip("vtiny", files)), "vtiny.zip")}, content_type="multipart/form-data").status_code == 303
    return dana


def _published(app, key: str, job: dict) -> tuple[dict, str]:
    """The render's manifest row and its captions."""
    from tailorcast.csvfile import read_rows

    folder = state(app).renders.folder(key)
    manifest = next(read_rows(next(folder.glob("runs/*/manifest.csv")).read_text(encoding="utf-8")))
    captions = next(folder.glob("c/*/captions.en.vtt")).read_text(encoding="utf-8")
    return manifest, captions


def test_the_variant_chosen_in_the_preview_is_the_variant_of_the_whole_video(app, vtiny):
    """Row 2's rules pick 'gentle'; rendered with 'stern', the published video plays stern's scene, as the stills do."""
    key, job, _ = _tiny_render(app, vtiny, {})
    assert job["state"] == "done", job
    manifest, captions = _published(app, key, job)
    assert manifest["variant"] == "gentle" and "Pay now, stern" not in captions
    key, job, _ = _tiny_render(app, vtiny, {"variant": "stern", "locale": "en"})
    assert job["state"] == "done", job
    manifest, captions = _published(app, key, job)
    assert manifest["variant"] == "stern" and "Pay now, stern" in captions
    import av

    with av.open(str(state(app).renders.folder(key) / state(app).renders.get(key).videos["wide"])) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 18  # 0.6 + 0.8 + 0.4 s at 10 fps: stern's scene is in the video
    v = state(app).versions.latest("vtiny")
    timeline = vtiny.get(f"/t/vtiny/timeline?v={v.id}&source=sample:sample-customers.csv&row=2&variant=stern").get_json()
    assert round(timeline["duration"] * 10) == frames  # the scene list and the video agree
    audit = [e for e in state(app).audit.recent() if e.action == "render"]
    assert "variant=stern" in audit[0].detail


@pytest.mark.parametrize("form, message", [({"variant": "nope"}, "variant 'nope' is not one of"), ({"locale": "xx"}, "locale 'xx' is not one of"),
                                           ({"row": 9}, "no row 9")])
def test_a_render_of_a_variant_locale_or_row_the_template_lacks_is_refused(app, vtiny, form, message):
    v = state(app).versions.latest("vtiny")
    resp = vtiny.post("/t/vtiny/render", {"v": v.id, "source": "sample:sample-customers.csv", "row": 2, **form}, headers={"Accept": "application/json"})
    assert resp.status_code == 422 and message in resp.get_json()["error"], resp.get_data(as_text=True)


def test_a_render_reports_frames_made_per_rendition_growing_to_100_percent(app, vtiny, monkeypatch):
    from studio.renders import Render

    told: list[tuple[str, int, int, int]] = []
    report = Render.report

    def spy(self, rendition, done, total):
        report(self, rendition, done, total)
        told.append((rendition, done, total, self.percent))

    monkeypatch.setattr(Render, "report", spy)
    shared: list[tuple[int, int, str]] = []
    report_shared = Render.report_shared

    def spy_shared(self, done, total):
        report_shared(self, done, total)
        shared.append((done, total, self.progress()["says"]))

    monkeypatch.setattr(Render, "report_shared", spy_shared)
    key, job, seen = _tiny_render(app, vtiny, {"variant": "stern"})
    # the shared scenes, one by one (each rendition's counts one), before any frame of the customer's own scenes
    total = shared[0][1]
    assert total >= 2 and [(d, t) for d, t, _ in shared] == [(d, total) for d in range(total + 1)], shared
    assert all(says.endswith(f": {d} of {total}") for d, _, says in shared), shared
    assert job["progress"]["shared"] == {"scenes": total, "of": total}
    assert job["state"] == "done" and job["progress"]["percent"] == 100 and job["progress"]["phase"] == "done", job
    assert {r["name"]: (r["frames"], r["of"]) for r in job["progress"]["renditions"]} == {"wide": (18, 18), "tall": (18, 18)}
    for rendition in ("wide", "tall"):
        mine = [(d, t) for r, d, t, _ in told if r == rendition]
        assert mine[0] == (0, 18) and mine[-1] == (18, 18) and len(mine) == 4  # resolved, then after each of 3 segments
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
    percents = [p for *_, p in told] + [job["progress"]["percent"]]
    assert percents == sorted(percents) and percents[-1] == 100 and max(percents[:-1]) <= 99
    polled = [j["progress"]["percent"] for j in seen] + [100]
    assert polled == sorted(polled)
    assert all(j["progress"]["says"] for j in seen)
    page = vtiny.get(f"/renders/{key}").get_data(as_text=True)
    assert '<progress id="render-progress" max="100" value="100">100 %</progress>' in page and "wide: 18 of 18 frames" in page


def _wait(staff, url, until, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        data = staff.get(url, headers={"Accept": "application/json"}).get_json()
        if until(data):
            return data
        time.sleep(1)
    raise AssertionError(f"{url} did not get there in {seconds} s: {data}")


@pytest.mark.e2e
def test_a_run_of_a_few_rows_finishes_and_its_manifest_downloads(app, tmp_path):
    v = _approve(app)
    rows = pick_rows(REMINDER_DIR / "sample-customers.csv", ["R-0001", "R-0002"], tmp_path / "two.csv")
    olga = Staff(app, "olga")
    resp = olga.post("/runs", {"version": v.id, "customers": (io.BytesIO(rows.read_bytes()), "two.csv"), "out": str(tmp_path / "pub")},
                     content_type="multipart/form-data")
    assert resp.status_code == 303
    url = resp.headers["Location"]
    done = _wait(olga, url, lambda d: d["state"] != "running", 400)
    assert done["state"] == "done" and done["counts"]["ok"] == 2 and done["total"] == 2, done
    run_id = url.rsplit("/", 1)[1]
    assert not (state(app).launcher.folder(run_id) / "input").exists()  # the uploaded export went with the run
    manifest = olga.get(url + "/manifest.csv")
    assert manifest.status_code == 200 and manifest.data.count(b",ok,") == 2
    history = olga.get("/runs", headers={"Accept": "application/json"}).get_json()["runs"]
    assert history[0]["started_by"] == "olga" and history[0]["state"] == "done"
    actions = [(e.user, e.action) for e in state(app).audit.recent()]
    assert ("olga", "start-run") in actions and ("olga", "download") in actions


@pytest.mark.e2e
def test_a_run_of_an_uploaded_parquet_export_finishes_with_its_rows_counted_from_the_footer(app, tmp_path):
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    v = _approve(app)
    rows = pick_rows(REMINDER_DIR / "sample-customers.csv", ["R-0001", "R-0002"], tmp_path / "two.csv")
    with open(rows, encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "two.parquet")
    olga = Staff(app, "olga")
    resp = olga.post("/runs", {"version": v.id, "customers": (io.BytesIO((tmp_path / "two.parquet").read_bytes()), "export.parquet"),
                               "out": str(tmp_path / "pub")}, content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    run_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert json.loads((state(app).launcher.folder(run_id) / "meta.json").read_text()) == {"rows": 2}
    done = _wait(olga, resp.headers["Location"], lambda d: d["state"] != "running", 400)
    assert done["state"] == "done" and done["counts"]["ok"] == 2, done


def test_a_start_refused_for_its_file_leaves_no_folder_behind(app, tmp_path):
    v = _approve(app)
    before = set(state(app).launcher.folder("x").parent.glob("*")) if state(app).launcher.folder("x").parent.exists() else set()
    resp = Staff(app, "olga").post("/runs", {"version": v.id, "customers": (io.BytesIO(b"x"), "export.xlsx"), "out": str(tmp_path / "pub")},
                                   content_type="multipart/form-data")
    assert resp.status_code == 400 and ".csv, .jsonl or .parquet" in resp.get_data(as_text=True)
    parent = state(app).launcher.folder("x").parent
    assert (set(parent.glob("*")) if parent.exists() else set()) == before


def test_a_run_that_stops_says_why_on_its_page(app, tmp_path):
    """A run the CLI refuses (here an export without the template's columns; a busy run id alike) is failed, and
    its page says why in the CLI's own words, not only in the log."""
    v = _approve(app)
    olga = Staff(app, "olga")
    resp = olga.post("/runs", {"version": v.id, "customers": (io.BytesIO(b"foo,bar\r\n1,2\r\n"), "export.csv"), "out": str(tmp_path / "pub")},
                     content_type="multipart/form-data")
    url = resp.headers["Location"]
    done = _wait(olga, url, lambda d: d["state"] != "running", 120)
    assert done["state"] == "failed", done
    assert done["reason"].startswith("customers ") and "missing columns customer_id" in done["reason"], done
    page = olga.get(url).get_data(as_text=True)
    assert re.search(r'<p class="problem" id="run-why">Why it stopped: <span id="run-reason">customers [^<]*missing columns customer_id', page)


def test_a_failed_run_without_an_error_line_names_its_exit_status(app, tmp_path):
    st = state(app)
    v = st.versions.latest("payment-reminder")
    st.runs.add("r-9", v.id, "payment-reminder", "upload: x.csv", str(tmp_path / "pub"), str(tmp_path), "olga", st.now())
    st.launcher.folder("r-9").mkdir(parents=True)
    (st.launcher.folder("r-9") / "log.txt").write_text("starting Ray…\nrow 4 said error: not at a line's start\n")
    run = st.runs.finish("r-9", "failed", 137, st.now())
    assert st.launcher.progress(run).reason == "the run's process was stopped by a signal (exit status 137); see the log"
    done = st.runs.finish("r-9", "done", 0, st.now())  # the first ending stays: still failed
    assert st.launcher.progress(done).reason.startswith("the run's process was stopped")


@pytest.mark.e2e
def test_a_long_run_is_cancelled_and_its_processes_end(app, tmp_path):
    v = _approve(app, "bill-explainer")
    olga = Staff(app, "olga")
    resp = olga.post("/runs", {"version": v.id, "customers": (io.BytesIO(SAMPLE_CSV.read_bytes()), "export.csv"), "out": str(tmp_path / "pub")},
                     content_type="multipart/form-data")
    url = resp.headers["Location"]
    run_id = url.rsplit("/", 1)[1]
    time.sleep(3)
    pid = state(app).runs.get(run_id).pid
    assert pid and state(app).runs.get(run_id).state == "running"
    assert olga.post(url + "/cancel").status_code == 303
    _wait(olga, url, lambda d: d["state"] == "cancelled", 60)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the run's process group is still there 30 s after the cancel")
    assert ("olga", "cancel-run") in [(e.user, e.action) for e in state(app).audit.recent()]
    assert olga.post(url + "/cancel").status_code == 409  # once


def test_a_run_that_ended_while_no_studio_watched_is_found_at_start(app, settings, tmp_path):
    st = state(app)
    v = st.versions.latest("payment-reminder")
    st.runs.add("gone-1", v.id, "payment-reminder", "upload: x.csv", str(tmp_path / "pub"), str(tmp_path), "olga", st.now())
    st.runs.started("gone-1", 2**22 + 12345)  # no such process
    Launcher(st.config, st.runs).reconcile()
    assert st.runs.get("gone-1").state == "failed"


def test_the_run_command_names_the_endpoint_of_an_s3_compatible_store(tmp_path):
    cmd = run_command("/py", tmp_path, "s3://b/x.csv", "s3://b/out", "r-1", tmp_path, endpoint_url="http://127.0.0.1:9000")
    assert cmd[-2:] == ["--endpoint-url", "http://127.0.0.1:9000"]


@pytest.mark.e2e
def test_a_run_from_a_bucket_path_reads_the_export_from_s3_and_its_manifest_downloads_from_the_output_bucket(settings, studio_seed, tmp_path, s3_server):
    import boto3

    app = seeded_app(settings, studio_seed, tmp_path, run_workers=1, endpoint_url=s3_server)
    v = _approve(app)
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="exports")
    rows = pick_rows(REMINDER_DIR / "sample-customers.csv", ["R-0001"], tmp_path / "one.csv")
    s3.put_object(Bucket="exports", Key="2026-11/one.csv", Body=rows.read_bytes())
    olga = Staff(app, "olga")
    s3.create_bucket(Bucket="published")
    resp = olga.post("/runs", {"version": v.id, "bucket_path": "s3://exports/2026-11/one.csv", "out": "s3://published/studio"},
                     content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    done = _wait(olga, resp.headers["Location"], lambda d: d["state"] != "running", 400)
    assert done["state"] == "done" and done["counts"]["ok"] == 1, done
    assert state(app).runs.history()[0].source == "s3://exports/2026-11/one.csv"
    manifest = olga.get(resp.headers["Location"] + "/manifest.csv")  # from the bucket the run published to
    assert manifest.status_code == 200 and manifest.data.count(b",ok,") == 1, manifest.status_code


@pytest.fixture
def s3_app(settings, studio_seed, tmp_path, s3_server):
    import boto3

    app = seeded_app(settings, studio_seed, tmp_path, run_workers=1, endpoint_url=s3_server)
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket="published")
    return app, client


def _s3_run(app, out: str, finished: bool = True):
    """A run recorded as published to ``out`` (what the launcher records once ``tailorcast run`` started)."""
    st = state(app)
    v = next((a for a in st.versions.approved() if a.template == "payment-reminder"), None) or _approve(app)
    run_id = new_run_id("payment-reminder", st.clock())
    st.runs.add(run_id, v.id, "payment-reminder", "upload: x.csv", out, str(st.launcher.folder(run_id)), "olga", st.now())
    if finished:
        st.runs.finish(run_id, "done", 0, st.now())
    return st.runs.get(run_id)


def test_the_manifest_and_error_report_of_a_run_published_to_s3_download_streamed(s3_app):
    """The files as the run wrote them (spreadsheet-safe already), in pieces, from moto's S3 over HTTP."""
    from tailorcast.csvfile import csv_bytes

    app, client = s3_app
    run = _s3_run(app, "s3://published/bills/2026-11")
    rows = [{"row": n, "customer_id": f"C-{n:05d}", "status": "ok", "page": f"c/{'x' * 40}/index.html", "error": "=HYPERLINK(\"x\")"}
            for n in range(2, 3000)]
    manifest = csv_bytes(["row", "customer_id", "status", "page", "error"], rows)
    assert len(manifest) > 4 * 64 * 1024 and b"'=HYPERLINK" in manifest  # several pieces; the run's own guard in it
    client.put_object(Bucket="published", Key=f"bills/2026-11/{run_file(run.run_id, 'manifest.csv')}", Body=manifest)
    client.put_object(Bucket="published", Key=f"bills/2026-11/{run_file(run.run_id, 'summary.json')}",
                      Body=json.dumps({"rows": 2998, "ok": 2990, "skipped": 0, "failed": 5, "invalid": 3}).encode())
    olga = Staff(app, "olga")
    got = olga.get(f"/runs/{run.run_id}/manifest.csv")
    assert got.status_code == 200 and got.is_streamed and got.data == manifest, got.status_code
    assert got.mimetype == "text/csv" and got.headers["Content-Disposition"] == f'attachment; filename="{run.run_id}-manifest.csv"'
    assert got.headers["Content-Length"] == str(len(manifest)) and got.headers["X-Content-Type-Options"] == "nosniff"
    missing = olga.get(f"/runs/{run.run_id}/errors.csv", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "not there (yet)" in missing.get_json()["error"]
    assert ("olga", "download") in [(e.user, e.action) for e in state(app).audit.recent()]
    follow = olga.get(f"/runs/{run.run_id}", headers={"Accept": "application/json"}).get_json()
    assert follow["counts"] == {"ok": 2990, "skipped": 0, "failed": 5, "invalid": 3} and follow["total"] == 2998
    assert Staff(app).get(f"/runs/{run.run_id}/manifest.csv").status_code == 302  # nothing without log-in


def test_a_run_in_a_bucket_that_cannot_be_read_says_so_without_a_traceback(s3_app):
    app, _client = s3_app
    run = _s3_run(app, "s3://no-such-bucket/out")
    got = Staff(app, "vic").get(f"/runs/{run.run_id}/manifest.csv", headers={"Accept": "application/json"})
    assert got.status_code == 502 and "bucket does not exist" in got.get_json()["error"], got.get_json()
    assert "Traceback" not in got.get_data(as_text=True)


def test_a_run_to_s3_that_ended_unwatched_is_done_when_its_summary_is_in_the_bucket(s3_app):
    app, client = s3_app
    run = _s3_run(app, "s3://published/later", finished=False)
    client.put_object(Bucket="published", Key=f"later/{run_file(run.run_id, 'summary.json')}", Body=b'{"rows": 1, "ok": 1}')
    gone = _s3_run(app, "s3://published/never", finished=False)
    state(app).launcher.reconcile()  # their processes (none recorded) are gone
    assert state(app).runs.get(run.run_id).state == "done" and state(app).runs.get(gone.run_id).state == "failed"


def test_a_render_started_in_one_studio_process_is_followed_and_served_by_another(app, vtiny, settings, tmp_path):
    """Two studios on one store and one state folder, as a WSGI server's worker processes are: the render's status
    file answers for it wherever the next request lands."""
    from helpers.studio import studio_app

    other = studio_app(settings, state(app).config.database_url, tmp_path, users=False)
    there = Staff(other, "dana")
    v = state(app).versions.latest("vtiny")
    started = vtiny.post("/t/vtiny/render", {"v": v.id, "source": "sample:sample-customers.csv", "row": 2, "variant": "stern"})
    url = started.headers["Location"]
    key = url.rsplit("/", 1)[1]
    seen, deadline = [], time.time() + 120
    while (job := there.get(url, headers={"Accept": "application/json"}).get_json())["state"] == "rendering" and time.time() < deadline:
        seen.append(job["progress"]["percent"])
        time.sleep(0.02)
    assert job["state"] == "done" and job["progress"]["percent"] == 100, job
    assert seen == sorted(seen) and key not in state(other).renders._renders  # answered from the status file
    assert Staff(other).get(job["page"]).status_code == 200  # the sandboxed frame's files too
    assert there.get(f"/renders/{'A' * 32}").status_code == 404 and there.get("/renders/..%2f..%2fetc").status_code == 404


def test_a_render_whose_studio_process_is_gone_says_so(app, vtiny, tmp_path):
    import json as json_

    from studio.renders import STATUS, Render

    st = state(app)
    gone = Render("B" * 32, "vtiny", 1, 2, st.clock(), ("wide",), pid=2**22 + 12345)
    (st.renders.root / gone.key).mkdir(parents=True)
    (st.renders.root / gone.key / STATUS).write_text(gone.to_json())
    job = vtiny.get(f"/renders/{gone.key}", headers={"Accept": "application/json"}).get_json()
    assert job["state"] == "failed" and "process that rendered it stopped" in job["error"], job
    assert json_.loads(gone.to_json())["frames"] == {}
