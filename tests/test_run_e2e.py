"""The whole path, real at every step: sample template → Ray → local folder / S3 over HTTP."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from helpers.runs import ffmpeg_decode_errors, read_csv
from renderer.probe import probe

pytestmark = pytest.mark.e2e  # a real local Ray, real-size videos, S3 over HTTP


def _manifest(out: Path, summary) -> list[dict]:
    return read_csv(out / summary.manifest)


def _errors(out: Path, summary) -> list[dict]:
    return read_csv(out / summary.errors)


def test_run_counts_good_and_bad_rows(local_run):
    out, summary = local_run
    assert (summary.ok, summary.failed, summary.invalid) == (4, 0, 4)
    assert summary.rows == 8


def test_every_ok_customer_has_video_poster_captions_and_page(local_run):
    out, summary = local_run
    rows = _manifest(out, summary)
    assert [r["status"] for r in rows] == ["ok"] * 4
    for r in rows:
        folder = out / "c" / r["token"]
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted(["index.html", "video-landscape.mp4", "video-portrait.mp4", "poster-landscape.jpg",
                                "poster-portrait.jpg", next(n for n in names if n.startswith("captions."))])
        vtt = next(folder.glob("captions.*.vtt")).read_text()
        assert vtt.startswith("WEBVTT") and "-->" in vtt


def test_videos_are_h264_aac_faststart_exact_duration_and_decode_clean(local_run, template):
    out, summary = local_run
    expected = sum(s.duration for s in template.scenes)
    for r, (rendition, size) in [(r, x) for r in _manifest(out, summary) for x in (("landscape", (1280, 720)), ("portrait", (720, 1280)))]:
        video = out / "c" / r["token"] / f"video-{rendition}.mp4"
        info = probe(video)
        assert info.video_codec == "h264" and info.profile in ("Main", "High")
        assert info.pix_fmt == "yuv420p"
        assert (info.width, info.height) == size
        assert info.audio_codec == "aac"
        assert abs(info.duration - expected) <= 0.1
        assert abs(info.audio_duration - expected) <= 0.1
        assert info.video_frames == round(expected * template.video.fps)
        assert info.faststart, info.atoms
        assert ffmpeg_decode_errors(video) == ""


def test_page_references_only_its_own_and_shared_files(local_run):
    out, summary = local_run
    for r in _manifest(out, summary):
        html = (out / r["page"]).read_text()
        refs = re.findall(r'(?:src|href|poster)="([^"]+)"', html)
        assert refs
        for ref in refs:
            if ref.startswith(("https://pay.lumen-energy.example/", "https://chat.lumen-energy.example/", "tel:", "mailto:", "data:")):
                continue  # the pay link and contact links (call, e-mail, chat) are navigations, not requests
            if re.match(r"video-\w+\.mp4#t=", ref):
                continue
            assert "://" not in ref and not ref.startswith("//"), ref
            target = (out / r["page"]).parent / ref
            assert target.resolve().is_file(), ref
            assert target.resolve().relative_to(out.resolve()).parts[0] in ("c", "shared")


def test_page_has_pay_link_epc_qr_noindex_and_no_personal_data_in_keys(local_run):
    out, summary = local_run
    rows = _manifest(out, summary)
    for r in rows:
        html = (out / r["page"]).read_text()
        assert 'name="robots" content="noindex' in html
        assert "https://pay.lumen-energy.example/checkout?ref=2026-10-" in html
        assert "<svg" in html and 'class="epc"' in html
    # keys are tokens and content hashes only
    all_keys = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parts[len(out.parts)] != "runs"]
    for key in all_keys:
        assert "CUST-" not in key and "@" not in key
        for name in ("Giulia", "Olivia", "script", "128.48"):
            assert name not in key


def test_italian_bills_carry_a_pagopa_notice_qr(local_run):
    out, summary = local_run
    for r in _manifest(out, summary):
        html = (out / r["page"]).read_text()
        italian = 'lang="it"' in html
        assert ('class="pagopa"' in html) == italian, r["customer_id"]


def test_bad_rows_are_in_the_error_report_with_row_id_and_reason(local_run):
    out, summary = local_run
    errors = _errors(out, summary)
    by_id = {(e["customer_id"], e["column"]): e for e in errors}
    assert set(by_id) == {("CUST-00052", "amount_due"), ("CUST-00053", "kwh"), ("CUST-00054", "locale"), ("CUST-00003", "customer_id")}
    assert by_id[("CUST-00052", "amount_due")]["row"] == "6"
    assert "empty" in by_id[("CUST-00052", "amount_due")]["reason"]
    assert "not a number" in by_id[("CUST-00053", "kwh")]["reason"]
    assert "unknown locale 'xx'" in by_id[("CUST-00054", "locale")]["reason"]
    assert "duplicate customer id, first seen in row 3" in by_id[("CUST-00003", "customer_id")]["reason"]


def test_hostile_name_is_escaped_in_page_and_captions(local_run):
    out, summary = local_run
    row = next(r for r in _manifest(out, summary) if r["customer_id"] == "CUST-00051")
    folder = out / "c" / row["token"]
    html = (folder / "index.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    vtt = (folder / "captions.en.vtt").read_text()
    assert "<script>" not in vtt and "&lt;script&gt;alert(1)&lt;/script&gt;" in vtt


def test_rerun_skips_customers_already_published(local_run, template, e2e_csv, settings):
    from tailorcast.bucket import LocalBucket
    from workers.run import run_billing

    out, first = local_run
    before = (out / first.manifest).read_text()
    again = run_billing(template, e2e_csv, LocalBucket(out), settings)
    assert again.run_id == first.run_id
    assert (again.ok, again.skipped, again.invalid) == (0, 4, 4)
    after = _manifest(out, again)
    assert [r["token"] for r in after] == [r["token"] for r in csv.DictReader(io.StringIO(before))]


def test_s3_publish_sets_content_type_and_cache_control(s3_server, template, e2e_csv, settings, ray_session):
    import boto3

    from tailorcast.bucket import open_bucket
    from workers.run import run_billing

    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="bills")
    bucket = open_bucket("s3://bills/october", endpoint_url=s3_server)
    summary = run_billing(template, e2e_csv, bucket, settings, run_id="s3-test", limit=3)
    assert summary.ok == 3 and summary.invalid == 0 and summary.rows == 3
    objects = {o["Key"]: o for o in s3.list_objects_v2(Bucket="bills", Prefix="october/")["Contents"]}
    expect = {
        "index.html": ("text/html; charset=utf-8", "private, max-age=300"),
        "video-portrait.mp4": ("video/mp4", "private, max-age=300"),
        "poster-landscape.jpg": ("image/jpeg", "private, max-age=300"),
        ".vtt": ("text/vtt; charset=utf-8", "private, max-age=300"),
        ".css": ("text/css; charset=utf-8", "public, max-age=31536000, immutable"),
        "manifest.csv": ("text/csv; charset=utf-8", "private, no-store"),
    }
    seen = set()
    for key in objects:
        for suffix, (ctype, cache) in expect.items():
            if key.endswith(suffix):
                head = s3.head_object(Bucket="bills", Key=key)
                assert head["ContentType"] == ctype, key
                assert head["CacheControl"] == cache, key
                seen.add(suffix)
    assert seen == set(expect)
    # the published video is complete and plays
    video_key = next(k for k in objects if k.endswith("video-landscape.mp4"))
    body = s3.get_object(Bucket="bills", Key=video_key)["Body"].read()
    assert probe_bytes(body).video_frames == round(sum(s.duration for s in template.scenes) * template.video.fps)


def probe_bytes(data: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        return probe(fh.name)


def test_s3_video_uploads_use_multipart_above_threshold(s3_server, tmp_path):
    import boto3

    from tailorcast.s3 import S3Bucket

    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="big")
    big = tmp_path / "video.mp4"
    big.write_bytes(bytes(range(256)) * (12 * 1024 * 1024 // 256))
    S3Bucket("big", "", endpoint_url=s3_server).put_file("c/" + "A" * 32 + "/video.mp4", big)
    head = s3.head_object(Bucket="big", Key="c/" + "A" * 32 + "/video.mp4")
    assert head["ETag"].strip('"').endswith("-3")  # three 5 MiB parts
    assert head["ContentType"] == "video/mp4"


def test_reminder_template_renders_variants_and_conditional_scene_in_both_renditions(reminder_run):
    out, summary = reminder_run  # R-0001 (en), R-0005 (ar friendly 189.40), R-0010 (ar firm 129.90)
    assert (summary.ok, summary.failed, summary.invalid) == (3, 0, 0)
    rows = reminder_run.by_id()
    assert rows["R-0005"]["variant"] == "friendly" and rows["R-0010"]["variant"] == "firm"
    durations = {"R-0005": 3.5 + 5 + 5 + 5 + 3, "R-0010": 3.5 + 5 + 5 + 3}  # the instalment offer only above 150
    for cid, expected in durations.items():
        for rendition, size in (("portrait", (720, 1280)), ("landscape", (1280, 720))):
            video = out / "c" / rows[cid]["token"] / f"video-{rendition}.mp4"
            info = probe(video)
            assert (info.width, info.height) == size
            assert abs(info.duration - expected) <= 0.1 and info.video_frames == round(expected * 30)
            assert info.faststart and ffmpeg_decode_errors(video) == ""
        html = (out / rows[cid]["page"]).read_text()
        assert 'lang="ar" dir="rtl"' in html


def test_signed_pay_link_is_accepted_by_the_demo_checkout_and_flips_paid_status(reminder_run, settings, tmp_path):
    """The reminder's signed pay link, published by a run, is honoured by the public server (same secret)."""
    import urllib.parse

    from public_server.app import create_public_app
    from public_server.config import public_config

    out = reminder_run.out
    row = reminder_run.by_id()["R-0001"]
    assert row["status"] == "ok"
    html = (out / row["page"]).read_text()
    href = re.search(r'id="pay" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert href.startswith("http://127.0.0.1:8000/demo/checkout?") and f"t={row['token']}" in href

    app = create_public_app(public_config(settings, database_url=f"sqlite:///{tmp_path / 'public.db'}", demo_checkout=True),
                            clock=lambda: 1_760_000_000)  # before the link's expiry
    client = app.test_client()
    query = urllib.parse.urlsplit(href).query
    assert client.get(f"/api/status/{row['token']}").get_json()["paid"] is False
    assert client.get(f"/demo/checkout?{query}").status_code == 200
    form = dict(urllib.parse.parse_qsl(query))
    assert client.post("/demo/checkout", data=form).status_code in (200, 303)
    assert client.get(f"/api/status/{row['token']}").get_json()["paid"] is True
    tampered = dict(form, amount="100")
    assert client.post("/demo/checkout", data=tampered).status_code == 403
