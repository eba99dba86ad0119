"""A folder as the bucket: whole-file writes staged in the bucket's private ``.staging/`` folder, so a writer
killed mid-write (a lost worker node, SIGKILL) never leaves a partial file in a published customer folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tailorcast.bucket import STAGING, STAGING_MAX_AGE, LocalBucket
from tailorcast.errors import StorageError

KEY = "c/tok/video-wide.mp4"


def test_whole_writes_leave_nothing_but_the_object(tmp_path):
    bucket = LocalBucket(tmp_path)
    bucket.put_bytes(KEY, b"a" * 1000)
    assert bucket.put_new("c/tok/index.html", b"<html>")
    assert not bucket.put_new("c/tok/index.html", b"other")
    assert sorted(p.name for p in (tmp_path / "c" / "tok").iterdir()) == ["index.html", "video-wide.mp4"]
    assert bucket.get_bytes("c/tok/index.html") == b"<html>"
    assert list((tmp_path / STAGING).iterdir()) == []  # nothing left once the writes are done


def test_a_writer_killed_mid_write_leaves_its_partial_file_in_staging_only(tmp_path):
    # a child process writes 200 MB and is SIGKILLed while the bytes go to disk
    code = ("import sys; from tailorcast.bucket import LocalBucket; print('go', flush=True); "
            f"LocalBucket(sys.argv[1]).put_bytes({KEY!r}, b'x' * 200_000_000)")
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"go\n"
    staging = tmp_path / STAGING
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (staging.is_dir() and any(staging.iterdir())):
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    left = list(staging.iterdir())
    assert left, "the child was killed before it staged anything: kill it later"
    assert not (tmp_path / KEY).exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file() and STAGING not in p.parts] == []  # nothing in a published folder
    bucket = LocalBucket(tmp_path)
    assert bucket.list_keys("") == []  # the staging folder holds no keys

    # the next run's check sweeps what is older than an hour, never a write that may be in progress
    assert bucket.sweep_staging() == 0
    old = time.time() - STAGING_MAX_AGE - 60
    for p in left:
        os.utime(p, (old, old))
    bucket.check()
    assert list(staging.iterdir()) == []


def test_keys_outside_the_bucket_are_refused(tmp_path):
    with pytest.raises(StorageError, match="outside the bucket"):
        LocalBucket(tmp_path).put_bytes("../escape", b"x")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_delete_removes_an_object_and_is_quiet_when_it_is_gone(kind, tmp_path, request):
    """Both buckets: what a rebuilt customer folder relies on (workers/job.py removes the files a page no longer uses)."""
    if kind == "s3":
        import uuid

        import boto3

        from tailorcast.s3 import S3Bucket

        endpoint = request.getfixturevalue("s3_server")
        name = f"delete-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
        bucket = S3Bucket(name, "oct", endpoint_url=endpoint)
    else:
        bucket = LocalBucket(tmp_path / "pub")
    bucket.put_bytes("c/tok/o/wide-0.webp", b"old")
    bucket.put_bytes("c/tok/index.html", b"<p>")
    bucket.delete("c/tok/o/wide-0.webp")
    bucket.delete("c/tok/o/wide-0.webp")  # already gone: no error
    assert bucket.list_keys("c/tok/") == ["c/tok/index.html"] and bucket.get_bytes("c/tok/o/wide-0.webp") is None
