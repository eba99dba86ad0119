"""``tailorcast bake`` keeps the run's records true: the manifest lists a baked customer's video and poster,
a resume leaves the baked page and video alone, ``run --force`` bakes the customer again, a second bake
uploads nothing, and a bake with another version of the template is refused.

The tiny template (tests/helpers/tiny.py) with ``video.bake: false``; a local folder with the in-process
executor, and moto's S3 over HTTP with a real local Ray instance and the CLI.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.runs import ffmpeg_decode_errors
from helpers.tiny import write_tiny
from test_bake import BAKE_PAGE, UNBAKED

ROWS = "customer_id,locale,first_name\nC1,en,Ann\nC2,en,Bob\nC3,en,Cyd\n"  # rows 2, 3, 4
SECRET = b"bake-records-secret-" + b"x" * 32


class Counting:
    """A bucket that notes every write (put_bytes, put_file, put_new) and passes every call on."""

    def __init__(self, inner) -> None:
        self.inner, self.writes = inner, []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not name.startswith("put"):
            return attr

        def put(key, *args, **kwargs):
            self.writes.append(key)
            return attr(key, *args, **kwargs)

        return put


def _setup(tmp_path: Path):
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template

    template = load_template(write_tiny(tmp_path / "tiny", UNBAKED, BAKE_PAGE))
    customers = tmp_path / "customers.csv"
    customers.write_text(ROWS)
    return template, customers, Settings(state_dir=tmp_path / "state", secret=SECRET)


def _manifest(bucket, run_id: str) -> list[dict]:
    """The manifest's rows from the CSV, checked against the Parquet twin (same rows, same links)."""
    import pyarrow.parquet as pq

    from tailorcast import keys
    from tailorcast.csvfile import read_rows

    rows = list(read_rows(bucket.get_bytes(keys.run_file(run_id, "manifest.csv")).decode()))
    table = pq.read_table(io.BytesIO(bucket.get_bytes(keys.run_file(run_id, "manifest.parquet")))).to_pylist()
    assert [(p["row"], p["status"], p["page"], p["video"], p["poster"]) for p in table] == \
        [(int(r["row"]), r["status"], r["page"], r["video"], r["poster"]) for r in rows]
    return rows


def _page(bucket, token: str) -> str:
    from tailorcast import keys

    return bucket.get_bytes(keys.customer_page(token)).decode()


def _check_baked_page(html: str) -> None:
    assert '<a id="dl" href="video-wide.mp4" download>' in html and '<video src="video-wide.mp4"' in html
    live = json.loads(re.search(r'<script type="application/json" id="tc-timeline">(.*?)</script>', html, re.S).group(1))["live"]
    assert live["wide"]["src"].startswith("../../shared/video/")  # and it still plays live


def _check_videos(bucket, token: str, tmp_path: Path) -> None:
    """Both renditions of the baked video are there, probe as the tiny template's 14 frames and decode cleanly."""
    from renderer.probe import probe
    from tailorcast import keys

    for rendition in ("wide", "tall"):
        path = tmp_path / f"{token[:8]}-{rendition}.mp4"
        path.write_bytes(bucket.get_bytes(keys.customer_file(token, keys.video_name(rendition))))
        info = probe(path)
        assert info.video_frames == 14, (rendition, info)
        assert ffmpeg_decode_errors(path) == ""
        assert bucket.exists(keys.customer_file(token, keys.poster_name(rendition)))


def _videos_of(bucket, rows: list[dict]) -> dict[str, str]:
    """customer id → its manifest video (empty when none)."""
    return {r["customer_id"]: r["video"] for r in rows}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def test_bake_records_the_video_and_later_runs_keep_it(tmp_path):
    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from workers.bake import bake_customers
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _setup(tmp_path)
    out = tmp_path / "pub"
    bucket = LocalBucket(out)
    first = run_billing(template, customers, bucket, settings, run_id="tiny-rec", executor=InProcessExecutor())
    assert (first.ok, first.baked) == (3, 0)
    before = _manifest(bucket, "tiny-rec")
    assert all(r["video"] == "" for r in before)
    token = {r["customer_id"]: r["token"] for r in before}
    row3_page = _page(bucket, token["C2"])

    counting = Counting(bucket)
    result = bake_customers(template, customers, counting, settings, "tiny-rec", rows={3})
    assert [(r.row, r.status) for r in result.results] == [(3, "ok")] and result.records == 1
    lease, *writes, released = counting.writes  # the run id's lease taken before the first write, released after the last
    assert lease == released and lease.startswith(keys.lease_prefix("tiny-rec"))
    *files, page, part, parquet, csv, errors = [k for k in writes if k != lease]  # the page last of the customer's, then the records (a heartbeat between)
    assert page == keys.customer_page(token["C2"]) and part.startswith(keys.journal_prefix("tiny-rec"))
    assert [parquet, csv, errors] == [keys.run_file("tiny-rec", n) for n in ("manifest.parquet", "manifest.csv", "errors.csv")]
    assert {keys.customer_file(token["C2"], n) for n in ("video-wide.mp4", "video-tall.mp4", "poster-wide.jpg", "poster-tall.jpg")} <= set(files)
    rows = _manifest(bucket, "tiny-rec")
    c2 = next(r for r in rows if r["customer_id"] == "C2")
    assert (c2["row"], c2["status"], c2["page"]) == ("3", "ok", keys.customer_page(token["C2"]))
    assert (c2["video"], c2["poster"]) == (keys.customer_file(token["C2"], "video-wide.mp4"), keys.customer_file(token["C2"], "poster-wide.jpg"))
    assert _videos_of(bucket, rows) == {"C1": "", "C2": c2["video"], "C3": ""}
    assert [r["error"] for r in rows] == ["", "", ""]
    html = _page(bucket, token["C2"])
    assert html != row3_page
    _check_baked_page(html)
    _check_videos(bucket, token["C2"], tmp_path)
    assert not list((out / "c" / token["C1"]).glob("*.mp4")) and not list((out / "c" / token["C3"]).glob("*.mp4"))

    # baking the same row again: nothing rendered, nothing written (no journal part, no manifest)
    snap = _snapshot(out)
    again = Counting(bucket)
    second = bake_customers(template, customers, again, settings, "tiny-rec", rows={3})
    assert [(r.row, r.status) for r in second.results] == [(3, "skipped")] and second.records == 0
    assert again.writes == [] and _snapshot(out) == snap

    # a plain rerun resumes: every row published, the baked one kept as it is
    resumed = run_billing(template, customers, bucket, settings, run_id="tiny-rec", executor=InProcessExecutor())
    assert (resumed.ok, resumed.skipped, resumed.resumed, resumed.baked) == (0, 3, 3, 1)
    assert {k: v for k, v in _snapshot(out).items() if k.startswith("c/")} == {k: v for k, v in snap.items() if k.startswith("c/")}
    assert _videos_of(bucket, _manifest(bucket, "tiny-rec")) == {"C1": "", "C2": c2["video"], "C3": ""}

    # --force renders every row again, and bakes the baked one again: its page keeps the video and the link
    forced = run_billing(template, customers, bucket, settings, run_id="tiny-rec", executor=InProcessExecutor(), force=True)
    assert (forced.ok, forced.skipped, forced.baked) == (3, 0, 1)
    rows = _manifest(bucket, "tiny-rec")
    assert _videos_of(bucket, rows) == {"C1": "", "C2": c2["video"], "C3": ""}
    assert next(r for r in rows if r["customer_id"] == "C2")["poster"] == c2["poster"]
    _check_baked_page(_page(bucket, token["C2"]))
    _check_videos(bucket, token["C2"], tmp_path)
    assert 'id="dl"' not in _page(bucket, token["C1"])
    assert not list((out / "c" / token["C1"]).glob("*.mp4"))

    # and after it, a resume and a bake find everything done
    after = run_billing(template, customers, bucket, settings, run_id="tiny-rec", executor=InProcessExecutor())
    assert (after.ok, after.skipped, after.baked) == (0, 3, 1)
    quiet = Counting(bucket)
    assert [r.status for r in bake_customers(template, customers, quiet, settings, "tiny-rec", rows={3}).results] == ["skipped"]
    assert quiet.writes == []

    # the export written in another order, under the same run id: the baked customer (C2) is baked by who it is,
    # not by its row; the customer now on its row (C3) gets no video
    lines = customers.read_text().splitlines()
    header, by_id = lines[0], {line.split(",")[0]: line for line in lines[1:]}
    reordered = tmp_path / "reordered.csv"
    reordered.write_text("\n".join([header, by_id["C1"], by_id["C3"], by_id["C2"]]) + "\n")
    moved = run_billing(template, reordered, bucket, settings, run_id="tiny-rec", executor=InProcessExecutor())
    assert moved.baked == 1
    rows = _manifest(bucket, "tiny-rec")
    assert _videos_of(bucket, rows) == {"C1": "", "C2": c2["video"], "C3": ""}
    assert next(r for r in rows if r["customer_id"] == "C2")["row"] == "4"
    _check_baked_page(_page(bucket, token["C2"]))
    assert 'id="dl"' not in _page(bucket, token["C3"]) and not list((out / "c" / token["C3"]).glob("*.mp4"))


def test_bake_with_a_file_of_only_the_chosen_customers_records_their_run_rows(tmp_path):
    """--customers may be a file with only the customers to bake: the record keeps the run's row number."""
    from tailorcast.bucket import LocalBucket
    from workers.bake import bake_customers
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _setup(tmp_path)
    bucket = LocalBucket(tmp_path / "pub")
    run_billing(template, customers, bucket, settings, run_id="tiny-sub", executor=InProcessExecutor())
    only = tmp_path / "only.csv"
    only.write_text("customer_id,locale,first_name\nC3,en,Cyd\n")
    result = bake_customers(template, only, bucket, settings, "tiny-sub")
    assert [(r.row, r.status) for r in result.results] == [(2, "ok")]  # row 2 of only.csv ...
    rows = _manifest(bucket, "tiny-sub")
    assert [(r["row"], bool(r["video"])) for r in rows] == [("2", False), ("3", False), ("4", True)]  # ... is row 4 of the run
    resumed = run_billing(template, customers, bucket, settings, run_id="tiny-sub", executor=InProcessExecutor())
    assert (resumed.skipped, resumed.baked) == (3, 1)


def test_bake_refuses_another_version_of_the_template(tmp_path, monkeypatch):
    from tailorcast.bucket import LocalBucket
    from tailorcast.cli import main
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _setup(tmp_path)
    out = tmp_path / "pub"
    run_billing(template, customers, LocalBucket(out), settings, run_id="tiny-ver", executor=InProcessExecutor())
    summary = json.loads((out / "runs" / "tiny-ver" / "summary.json").read_text())
    assert (summary["template"], summary["template_digest"], summary["api"]) == (template.name, template.content_hash, False)
    changed = write_tiny(tmp_path / "changed", UNBAKED, BAKE_PAGE.replace("<body>", "<body><p>new</p>"))
    before = sorted(p for p in out.rglob("*") if p.is_file())
    monkeypatch.setenv("TAILORCAST_SECRET", SECRET.decode())
    res = CliRunner().invoke(main, ["bake", "tiny-ver", str(changed), "--customers", str(customers), "--out", str(out), "--state", str(settings.state_dir)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    text = " ".join(res.output.split())
    assert "was published with template" in text and template.content_hash[:12] in text and "Give `tailorcast bake` the template folder" in text
    assert sorted(p for p in out.rglob("*") if p.is_file()) == before  # nothing rendered, nothing written
    missing = CliRunner().invoke(main, ["bake", "no-such-run", str(changed), "--customers", str(customers), "--out", str(out), "--state", str(settings.state_dir)])
    assert missing.exit_code == 2 and "no finished run 'no-such-run'" in " ".join(missing.output.split()) and "Traceback" not in missing.output


@pytest.mark.e2e
def test_bake_into_s3_on_ray_with_a_cdn_base_url(tmp_path, s3_server, ray_session, monkeypatch):
    """The same story into moto's S3 over HTTP: runs on a real local Ray instance (the baked rows' own run
    context travels to the workers), the bake through the CLI; the manifest's links keep the CDN base URL."""
    import boto3

    from tailorcast import keys
    from tailorcast.bucket import open_bucket
    from tailorcast.cli import main
    from workers.bake import bake_customers
    from workers.run import run_billing

    template, customers, settings = _setup(tmp_path)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="baked")
    out, cdn = "s3://baked/oct", "https://bills.example.com/oct"
    bucket = open_bucket(out, s3_server)
    first = run_billing(template, customers, bucket, settings, run_id="tiny-s3", cdn_base_url=cdn)
    assert first.ok == 3
    token = {r["customer_id"]: r["token"] for r in _manifest(bucket, "tiny-s3")}
    monkeypatch.setenv("TAILORCAST_SECRET", SECRET.decode())
    res = CliRunner().invoke(main, ["bake", "tiny-s3", str(template.root), "--customers", str(customers), "--rows", "2,4", "--out", out,
                                    "--endpoint-url", s3_server, "--state", str(settings.state_dir)])
    assert res.exit_code == 0, res.output
    assert "assembled again" in res.output
    video = {c: f"{cdn}/{keys.customer_file(token[c], 'video-wide.mp4')}" for c in ("C1", "C3")}
    expected = {"C1": video["C1"], "C2": "", "C3": video["C3"]}
    rows = _manifest(bucket, "tiny-s3")
    assert _videos_of(bucket, rows) == expected
    assert next(r for r in rows if r["customer_id"] == "C1")["poster"] == f"{cdn}/{keys.customer_file(token['C1'], 'poster-wide.jpg')}"
    for c in ("C1", "C3"):
        _check_baked_page(_page(bucket, token[c]))
        _check_videos(bucket, token[c], tmp_path)
    assert not bucket.exists(keys.customer_file(token["C2"], "video-wide.mp4"))

    again = Counting(bucket)
    second = bake_customers(template, customers, again, settings, "tiny-s3", rows={2, 4})
    assert [r.status for r in second.results] == ["skipped", "skipped"] and again.writes == []

    pages = {c: _page(bucket, token[c]) for c in token}
    resumed = run_billing(template, customers, bucket, settings, run_id="tiny-s3", cdn_base_url=cdn)
    assert (resumed.ok, resumed.skipped, resumed.baked) == (0, 3, 2)
    assert {c: _page(bucket, token[c]) for c in token} == pages
    assert _videos_of(bucket, _manifest(bucket, "tiny-s3")) == expected

    forced = run_billing(template, customers, bucket, settings, run_id="tiny-s3", cdn_base_url=cdn, force=True)
    assert (forced.ok, forced.baked) == (3, 2)
    assert _videos_of(bucket, _manifest(bucket, "tiny-s3")) == expected
    for c in ("C1", "C3"):
        _check_baked_page(_page(bucket, token[c]))
        _check_videos(bucket, token[c], tmp_path)
    assert 'id="dl"' not in _page(bucket, token["C2"])
