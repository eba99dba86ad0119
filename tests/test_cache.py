"""Segment cache retention: personal segments kept apart per run, dropped when a run ends, pruned by age."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from renderer.cache import PERSONAL, SegmentCache
from tailorcast.cli import main
from helpers.tiny import TINY, write_tiny

DAY = 86400

WIDE_ONLY = TINY.replace("    tall: {width: 64, height: 96}\n", "")  # one rendition: one shared and one personal segment per video


@pytest.fixture
def tiny(tmp_path):
    from tailorcast.spec.load import load_template

    assert WIDE_ONLY != TINY, "the tiny template changed: update WIDE_ONLY"
    return load_template(write_tiny(tmp_path / "tiny", WIDE_ONLY))


def _ctx(tpl, name="Ann"):
    from tailorcast.context import customer_context
    from tailorcast.customers import validate_row

    return customer_context(tpl, validate_row(tpl, 2, {"customer_id": "C1", "locale": "en", "first_name": name}))


def _age(path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t))


def test_personal_segments_are_kept_apart_per_run_and_shared_ones_are_not(tiny, tmp_path):
    from renderer.video import render_video

    root = tmp_path / "cache"
    render_video(tiny, _ctx(tiny), tmp_path / "a", SegmentCache(root, "run-a"))
    again = render_video(tiny, _ctx(tiny, "Bob"), tmp_path / "b", SegmentCache(root, "run-b"))
    assert [hit for *_, hit in again.segments] == [True, False]  # the shared scene is reused across runs
    assert len(list((root / "segments").rglob("*.mp4"))) == 1
    assert len(list((root / PERSONAL / "run-a").rglob("*.mp4"))) == 1
    assert len(list((root / PERSONAL / "run-b").rglob("*.mp4"))) == 1


def test_drop_personal_removes_only_that_runs_personal_segments(tmp_path):
    root = tmp_path / "cache"
    a, b = SegmentCache(root, "run-a"), SegmentCache(root, "run-b")
    a.put_bytes("segments", "aa11", "mp4", b"shared")
    a.put_bytes(PERSONAL, "bb22", "mp4", b"ann's scene")
    a.put_bytes(PERSONAL, "cc33", "mp4", b"ann's other")
    b.put_bytes(PERSONAL, "dd44", "mp4", b"bob")
    removed = a.drop_personal()
    assert (removed.files, removed.bytes) == (2, len(b"ann's scene") + len(b"ann's other"))
    assert a.get(PERSONAL, "bb22", "mp4") is None and a.get("segments", "aa11", "mp4") is not None
    assert b.get(PERSONAL, "dd44", "mp4") is not None
    assert a.drop_personal().files == 0  # nothing left: no error


def test_a_scope_must_be_a_plain_folder_name(tmp_path):
    for bad in ("../up", "a/b", ".hidden", ""):
        if bad:
            with pytest.raises(ValueError):
                SegmentCache(tmp_path, bad)
    assert SegmentCache(tmp_path, "").scope == SegmentCache(tmp_path).scope  # no scope: the default one


def test_prune_removes_what_was_not_used_for_days_and_a_hit_refreshes(tmp_path):
    cache = SegmentCache(tmp_path / "cache", "run-a")
    old = cache.put_bytes("segments", "aa11", "mp4", b"x" * 100)
    used = cache.put_bytes(PERSONAL, "bb22", "mp4", b"y" * 50)
    fresh = cache.put_bytes("audio", "cc33", "m4a", b"z" * 10)
    for p in (old, used):
        _age(p, 40)
    assert cache.get(PERSONAL, "bb22", "mp4") == used  # a run used it today
    removed = cache.prune(30 * DAY)
    assert (removed.files, removed.bytes) == (1, 100)
    assert not old.exists() and used.exists() and fresh.exists()
    assert not old.parent.exists()  # its empty folder went too
    assert cache.prune(0, now=time.time() + 1).files == 2  # 0 days: everything


def test_cache_prune_command_reports_counts_and_bytes_never_names(tmp_path):
    state = tmp_path / "state"
    cache = SegmentCache(state / "cache", "run-a")
    key = "ab" + "0" * 62
    path = cache.put_bytes(PERSONAL, key, "mp4", b"x" * 2_000_000)
    cache.put_bytes("segments", "cd" + "1" * 62, "mp4", b"y")
    _age(path, 8)
    result = CliRunner().invoke(main, ["cache", "prune", "--older-than", "7", "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert "removed 1 files (2.0 MB) not used for 7 days" in result.output
    assert key[:8] not in result.output and "run-a" not in result.output
    assert not path.exists() and len(list((state / "cache").rglob("*.mp4"))) == 1


def test_cache_prune_needs_a_number_of_days(tmp_path):
    result = CliRunner().invoke(main, ["cache", "prune", "--state", str(tmp_path)])
    assert result.exit_code == 2 and "--older-than" in result.output
    result = CliRunner().invoke(main, ["cache", "prune", "--older-than", "-1", "--state", str(tmp_path)])
    assert result.exit_code == 2


def test_a_run_leaves_only_shared_segments_each_job_dropping_its_personal_ones(tiny, tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.settings import Settings
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,locale,first_name\nC1,en,Ann\nC2,en,Bob\n")
    settings = Settings(state_dir=tmp_path / "state", secret=b"s" * 40)
    kept = run_billing(tiny, csv, LocalBucket(tmp_path / "out1"), settings, run_id="kept", executor=InProcessExecutor())
    dropped = run_billing(tiny, csv, LocalBucket(tmp_path / "out2"), settings, run_id="dropped", executor=InProcessExecutor(),
                          drop_personal_segments=True)
    assert kept.ok == dropped.ok == 2
    cache = settings.cache_dir
    # each customer's job drops its own personal segments when it ends (a worker's disk holds one customer's)
    assert kept.personal_segments_dropped == dropped.personal_segments_dropped == 0
    assert list((cache / PERSONAL).rglob("*.mp4")) == []
    assert len(list((cache / "segments").rglob("*.mp4"))) == 1  # the shared scene stays for the next run
