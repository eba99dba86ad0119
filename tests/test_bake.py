"""``video.bake: false``: live pages with no customer video at all; ``tailorcast bake`` adds the video later.

Unit tier on the tiny template, with the in-process executor (no Ray); the last test plays a
bill-explainer page of a ``bake: false`` run in Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.runs import ffmpeg_decode_errors, read_csv
from helpers.tiny import PAGE, TINY, write_tiny

UNBAKED = TINY.replace("  profile: {preset: ultrafast, crf: 30}\n", "  profile: {preset: ultrafast, crf: 30}\n  bake: false\n")
# the tiny page with the download link as the sample pages write it
BAKE_PAGE = PAGE.replace("<body>", '<body>{% if media.download %}<a id="dl" href="{{ media.download }}" download>file</a>{% endif %}')
ROWS = "customer_id,locale,first_name\nC1,en,Ann\nC2,en,Bob\n"


@pytest.fixture
def unbaked(tmp_path):
    """A ``bake: false`` run of two customers published in this process: (template, customers, settings, out, summary)."""
    from tailorcast.bucket import LocalBucket
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    assert UNBAKED != TINY
    template = load_template(write_tiny(tmp_path / "tiny", UNBAKED, BAKE_PAGE))
    customers = tmp_path / "customers.csv"
    customers.write_text(ROWS)
    settings = Settings(state_dir=tmp_path / "state", secret=b"bake-test-secret-" + b"x" * 32)
    out = tmp_path / "pub"
    summary = run_billing(template, customers, LocalBucket(out), settings, run_id="tiny-bake", executor=InProcessExecutor())
    assert (summary.ok, summary.failed) == (2, 0), summary
    return template, customers, settings, out, summary


def _folder(out: Path, row: dict) -> Path:
    return out / "c" / row["token"]


def _player(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="tc-timeline">(.*?)</script>', html, re.S).group(1))


def test_bake_false_turns_live_mode_on_and_is_a_boolean(tmp_path):
    from tailorcast.errors import TemplateError
    from tailorcast.spec.load import load_template

    video = load_template(write_tiny(tmp_path / "a", UNBAKED)).video
    assert (video.bake, video.live) == (False, True)
    assert load_template(write_tiny(tmp_path / "b", TINY)).video.bake is True
    with pytest.raises(TemplateError) as err:
        load_template(write_tiny(tmp_path / "c", UNBAKED.replace("bake: false", "bake: later")))
    assert "bake" in str(err.value)


def test_an_unbaked_run_publishes_live_pages_and_no_customer_video(unbaked, tmp_path):
    template, customers, settings, out, summary = unbaked
    rows = read_csv(out / summary.manifest)
    for row in rows:
        folder = _folder(out, row)
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert not [n for n in names if n.endswith((".mp4", ".jpg"))], names  # no video, no poster of its own
        assert "index.html" in names and "captions.en.vtt" in names
        assert [n for n in names if n.startswith("o/")] == ["o/tall.webp", "o/wide.webp"]  # one sheet of live stills per rendition
        assert row["video"] == "" and row["poster"].startswith("shared/img/") and (out / row["poster"]).is_file()
        html = (folder / "index.html").read_text()
        assert 'id="dl"' not in html  # nothing to download
        live = _player(html)["live"]
        assert set(live) == {"wide", "tall"}
        for r in live.values():
            assert r["src"].startswith("../../shared/video/") and (folder / r["src"]).resolve().is_file()
            assert r["stills"] and [s["src"] for s in r["sheets"]] == [f"o/{r['name']}.webp"] and (folder / r["sheets"][0]["src"]).is_file()
            assert {s["sheet"] for s in r["stills"]} == {0}
        src = re.search(r'<video src="([^"]+)" poster="([^"]+)"', html)
        assert src.group(1) == live["wide"]["src"]  # the page's own source is the base video
        assert (folder / src.group(2)).resolve() == (out / row["poster"]).resolve()
    # chapters and captions made without pixels are those of a baked run
    from tailorcast.bucket import LocalBucket
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    from tailorcast.spec.load import load_template
    baked_tpl = load_template(write_tiny(tmp_path / "baked", TINY, BAKE_PAGE))
    baked = run_billing(baked_tpl, customers, LocalBucket(tmp_path / "pub2"), settings, run_id="tiny-baked", executor=InProcessExecutor())
    for a, b in zip(rows, read_csv(tmp_path / "pub2" / baked.manifest), strict=True):
        assert (_folder(out, a) / "captions.en.vtt").read_text() == (_folder(tmp_path / "pub2", b) / "captions.en.vtt").read_text()
        pa, pb = _player((_folder(out, a) / "index.html").read_text()), _player((_folder(tmp_path / "pub2", b) / "index.html").read_text())
        assert (pa["scenes"], pa["duration"]) == (pb["scenes"], pb["duration"])
        assert 'id="dl" href="video-wide.mp4"' in (_folder(tmp_path / "pub2", b) / "index.html").read_text()


def test_bake_adds_the_video_and_the_download_link_to_chosen_customers_only(unbaked):
    from renderer.probe import probe
    from tailorcast.bucket import LocalBucket
    from workers.bake import bake_customers

    template, customers, settings, out, summary = unbaked
    first, second = read_csv(out / summary.manifest)
    before = (_folder(out, first) / "index.html").read_text()
    result = bake_customers(template, customers, LocalBucket(out), settings, "tiny-bake", rows={2})
    assert [(r.row, r.status, r.token) for r in result.results] == [(2, "ok", first["token"])]  # same token
    folder = _folder(out, first)
    for rendition in ("wide", "tall"):
        video = folder / f"video-{rendition}.mp4"
        assert probe(video).video_frames == 14 and ffmpeg_decode_errors(video) == ""
        assert (folder / f"poster-{rendition}.jpg").is_file()
    html = (folder / "index.html").read_text()
    assert html != before and '<a id="dl" href="video-wide.mp4" download>' in html
    assert '<video src="video-wide.mp4"' in html  # the baked file is the fallback ...
    assert _player(html)["live"]["wide"]["src"].startswith("../../shared/video/")  # ... and the page still plays live
    assert not list(_folder(out, second).glob("*.mp4"))  # row 3 was not chosen
    again = bake_customers(template, customers, LocalBucket(out), settings, "tiny-bake", rows={2})
    assert [r.status for r in again.results] == ["skipped"]


def test_bake_refuses_customers_the_run_did_not_publish_and_rows_the_file_lacks(unbaked, tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import StorageError
    from workers.bake import bake_customers

    template, customers, settings, out, _ = unbaked
    with pytest.raises(StorageError) as err:  # no finished run of that id here: nothing is read or rendered
        bake_customers(template, customers, LocalBucket(out), settings, "another-run", rows={2})
    assert "no finished run 'another-run'" in str(err.value) and "--out" in str(err.value)
    more = tmp_path / "more.csv"
    more.write_text(ROWS + "C9,en,Cy\n")  # C9 was never in the run
    result = bake_customers(template, more, LocalBucket(out), settings, "tiny-bake", rows={4, 9})
    assert [(r.row, r.status) for r in result.results] == [(4, "failed")]
    assert "not published by run tiny-bake" in result.results[0].error
    assert result.missing_rows == [9] and result.records == 0
    assert not list(out.rglob("*.mp4")) or all("shared" in p.parts for p in out.rglob("*.mp4"))


def test_bake_command_exit_status_and_rows_option(unbaked, monkeypatch):
    from tailorcast.cli import main

    template, customers, settings, out, _ = unbaked
    monkeypatch.setenv("TAILORCAST_SECRET", settings.secret.decode())
    base = ["bake", "tiny-bake", str(template.root), "--customers", str(customers), "--out", str(out), "--state", str(settings.state_dir)]
    bad = CliRunner().invoke(main, base + ["--rows", "2,x"])
    assert bad.exit_code == 2 and "'x' is not a row number" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(main, base + ["--rows", "7"])
    assert missing.exit_code == 1 and "rows not in" in missing.output
    ok = CliRunner().invoke(main, base + ["--rows", "3"])
    assert ok.exit_code == 0, ok.output
    assert "ok" in ok.output


def test_parse_rows():
    from workers.bake import parse_rows

    assert parse_rows("2,7,9") == {2, 7, 9}
    assert parse_rows(" 2-4, 9 ") == {2, 3, 4, 9}
    for bad in ("", "0", "5-3", "a", "2,,3"):
        with pytest.raises(ValueError):
            parse_rows(bad)


@pytest.mark.browser
@pytest.mark.e2e
def test_unbaked_bill_page_plays_the_base_video_with_live_stills_and_offers_no_download(chromium, settings, ray_session, tmp_path):
    """The bill-explainer with ``bake: false``, run on Ray for one customer and served: the phone plays the
    shared base video, every live still loads (WebP), and the page has no download link."""
    from urllib.parse import urlparse

    from helpers.browser import open_page
    from helpers.runs import publish
    from helpers.samples import SAMPLE_CSV, TEMPLATE_DIR, copy_template, edit_file, pick_rows
    from helpers.web import serve, site_app
    from tailorcast.spec.load import load_template

    folder = copy_template(TEMPLATE_DIR, tmp_path)
    edit_file(folder, "  default_rendition: portrait\n", "  default_rendition: portrait\n  bake: false\n")
    run = publish(load_template(folder), pick_rows(SAMPLE_CSV, ["CUST-00001"], tmp_path / "in.csv"), settings, tmp_path / "pub")
    assert run.summary.ok == 1, run.summary
    row = run.rows()[0]
    assert not list((tmp_path / "pub" / "c" / row["token"]).glob("*.mp4"))
    with serve(site_app(run.out)) as base, open_page(chromium, f"{base}/{row['page']}", "Pixel 5", wait=None) as (page, log):
        page.wait_for_function("() => { const v = document.querySelector('video');"
                               " return v.currentSrc.includes('/shared/video/') && v.readyState >= 1 && document.querySelector('.tc-o'); }")
        state = page.evaluate("""async () => { const v = document.querySelector('video'); v.muted = true;
            try { await v.play(); } catch (e) {} await new Promise(r => setTimeout(r, 1200));
            await new Promise(r => { const drawn = () => [...document.querySelectorAll('canvas.tc-o')].every(c => c.hasAttribute('data-drawn')) ? r() : setTimeout(drawn, 20); drawn(); });
            return {t: v.currentTime, w: v.videoWidth, poster: v.poster, live: document.querySelector('.stage').classList.contains('tc-live'),
                    stills: [...document.querySelectorAll('canvas.tc-o')].map(c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)),
                    sheets: performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/o/')),
                    download: document.querySelectorAll('.download a, a[download]').length}; }""")
        assert state["t"] > 0.3 and state["w"] == 720 and state["live"]
        assert urlparse(state["poster"]).path.startswith("/shared/img/")
        assert state["stills"] and all(state["stills"]), "every live still is drawn from the sheet"
        assert [urlparse(u).path.rsplit("/", 2)[1:] for u in state["sheets"]] == [["o", "portrait.webp"]], state["sheets"]  # one request
        assert state["download"] == 0
        assert log.errors == [] and log.noisy_console() == [] and log.failed == []
