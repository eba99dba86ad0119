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
        assert {"name", "width", "height", "orientation", "fps", "slideDistance", "rtl", "src", "stills"} == set(live)
        assert (live["width"], live["height"]) == (width, height)
        assert (out / "c" / row["token"] / live["src"]).resolve().is_file()  # the base video, in shared/video/
        assert "/shared/video/" in (out / "c" / row["token"] / live["src"]).resolve().as_posix()
        assert live["stills"], "the personal layer is a live still"
        for still in live["stills"]:
            assert set(still) == {"src", "x", "y", "width", "height", "start", "end", "enter", "enterFrames", "exit", "exitFrames"}
            assert still["src"].startswith("o/") and (out / "c" / row["token"] / still["src"]).is_file()
            assert 0 <= still["start"] < still["end"] <= 14
        pop = live["stills"][0]
        assert (pop["enter"], pop["enterFrames"], pop["exit"], pop["exitFrames"]) == ("pop", 3, "fade", 3)
