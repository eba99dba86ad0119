"""Fault injection with real components: a bucket that throttles, resets, loses answers and answers slowly (moto's S3
behind tests/helpers/faults.py on 127.0.0.1), and a Ray worker process killed in the middle of a run."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.driver import kill_running_task, pages, tiny_customers, wait_for
from helpers.faults import FaultProxy, Faults
from helpers.runs import ffmpeg_decode_errors

pytestmark = pytest.mark.e2e  # a real local Ray, moto's S3 over HTTP
RENDITIONS = ("wide", "tall")


def _settings(tmp_path: Path):
    from tailorcast.settings import Settings

    return Settings(state_dir=tmp_path / "state", secret=b"faults-test-secret-" + b"x" * 32)


def _parquet_rows(data: bytes) -> list[dict]:
    import io

    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pylist()


def test_every_valid_customer_is_published_once_and_completely_through_a_faulty_bucket(s3_server, ray_session, tmp_path):
    import boto3

    from renderer.probe import probe
    from tailorcast.spec.load import load_template
    from tailorcast.s3 import S3Bucket
    from workers.run import run_billing

    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="faulty")
    template_dir, customers = tiny_customers(tmp_path, 24, bad=(5, 17))
    faults = Faults(slowdown=0.12, reset=0.06, drop_answer=0.06, slow=0.06)
    with FaultProxy(s3_server, faults) as url:
        summary = run_billing(load_template(template_dir), customers, S3Bucket("faulty", "oct", endpoint_url=url), _settings(tmp_path),
                              run_id="faults")
    assert all(faults.injected[k] > 0 for k in ("slowdown", "reset", "drop_answer", "slow")), faults.injected
    assert (summary.ok, summary.failed, summary.invalid) == (22, 0, 2)

    def get(key: str) -> bytes:
        return s3.get_object(Bucket="faulty", Key=f"oct/{key}")["Body"].read()

    rows = _parquet_rows(get("runs/faults/manifest.parquet"))
    assert sorted(r["customer_id"] for r in rows) == [f"C{n:04d}" for n in range(1, 25) if n not in (5, 17)]  # each once
    for r in rows:
        assert r["status"] == "ok", r
        folder = f"oct/c/{r['token']}/"
        names = {o["Key"][len(folder):] for o in s3.list_objects_v2(Bucket="faulty", Prefix=folder)["Contents"]}
        assert names == {"index.html", "captions.en.vtt", *(f"video-{x}.mp4" for x in RENDITIONS), *(f"poster-{x}.jpg" for x in RENDITIONS)}
        assert faults.writes[f"/faulty/{folder}index.html"] == 1  # the page, the customer's "done" mark, was stored once
        for rendition in RENDITIONS:
            video = tmp_path / f"{r['token']}-{rendition}.mp4"
            video.write_bytes(get(f"c/{r['token']}/video-{rendition}.mp4"))
            assert probe(video).video_frames == 14 and ffmpeg_decode_errors(video) == ""
    errors = get("runs/faults/errors.csv").decode()
    assert "C0005" in errors and "C0017" in errors and "unknown locale" in errors


def test_a_ray_worker_process_killed_mid_run_loses_no_customer_and_renders_none_twice(ray_session, tmp_path):
    import pyarrow.parquet as pq

    from tailorcast.bucket import LocalBucket
    from tailorcast.spec.load import load_template
    from workers.run import run_billing

    template_dir, customers = tiny_customers(tmp_path, 60)
    out = tmp_path / "pub"
    killed: list[int] = []
    session = ray_session._private.worker._global_node.get_session_dir_path()  # only this session's workers

    def kill_one_worker() -> None:
        wait_for(lambda: len(pages(out)) >= 5, what="the first pages")
        killed.append(wait_for(lambda: kill_running_task("render_batch", session), every=0.02, what="a worker running a batch"))

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    summary = run_billing(load_template(template_dir), customers, LocalBucket(out), _settings(tmp_path), run_id="killed-worker")
    killer.join(timeout=5)
    assert killed, "no worker was killed"
    assert (summary.ok + summary.skipped, summary.failed) == (60, 0)
    rows = pq.read_table(out / summary.manifest_parquet).to_pylist()
    assert len(rows) == 60 and len({r["customer_id"] for r in rows}) == 60 and len(pages(out)) == 60
    retried = [r for r in rows if r["attempts"] > 1]
    assert retried and all(any(e.startswith("worker error") for e in r["attempt_errors"]) for r in retried)
    # the killed batch's customers published before the crash were found complete, not rendered again
    assert all(r["status"] in ("ok", "skipped") for r in retried)
