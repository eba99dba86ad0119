"""The studio's preview: stills are the renderer's frames (compared with the baked video by SSIM), the scene list
says why, locale and variant overrides, hostile zips refused, problems shown at their file and line."""

from __future__ import annotations

import io
import re
import stat
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from helpers.pictures import ssim
from helpers.samples import REMINDER_DIR
from helpers.studio import Staff, seeded_app, state
from helpers.tiny import PAGE, STRINGS, TINY

TINY_ROWS = "customer_id,locale,first_name\nT-1,en,Ada\nT-2,en,Grace\n"


@pytest.fixture
def app(settings, studio_seed, tmp_path):
    return seeded_app(settings, studio_seed, tmp_path)


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return buf.getvalue()


TINY_FILES = {"tiny/template.yaml": TINY.encode(), "tiny/strings/en.yaml": STRINGS.encode(), "tiny/page.html": PAGE.encode(),
              "tiny/sample-customers.csv": TINY_ROWS.encode()}


def _upload(staff: Staff, data: bytes, name: str = ""):
    return staff.post("/upload", {"zip": (io.BytesIO(data), "t.zip"), "name": name}, content_type="multipart/form-data")


@pytest.mark.parametrize("entries, links, message", [
    ({"../evil/template.yaml": b"x"}, None, "climbs out of the folder"),
    ({"tiny/../../template.yaml": b"x"}, None, "climbs out of the folder"),
    ({"/etc/template.yaml": b"x"}, None, "an absolute path"),
    ({"tiny/template.yaml": b"x"}, {"tiny/strings/en.yaml": "/etc/passwd"}, "symbolic link"),
    ({**TINY_FILES, "tiny/hook.py": b"import os"}, None, "kind of file a template does not hold"),
    ({f"tiny/f{i}.txt": b"x" for i in range(201)}, None, "at most 200"),
    ({"tiny/page.html": b"x"}, None, "no template.yaml"),
])
def test_a_hostile_zip_is_refused_and_nothing_is_saved(app, entries, links, message):
    dana = Staff(app, "dana")
    before = len(state(app).versions.templates())
    resp = _upload(dana, _zip(entries, links))
    assert resp.status_code == 409, resp.get_data(as_text=True)
    assert message in resp.get_data(as_text=True)
    assert len(state(app).versions.templates()) == before


def test_not_a_zip_and_a_bomb_are_refused(app, monkeypatch):
    dana = Staff(app, "dana")
    assert "not a zip file" in _upload(dana, b"PK\x03\x04 not really").get_data(as_text=True)
    monkeypatch.setattr("studio.zips.MAX_FILE_BYTES", 1000)
    bomb = _zip({**TINY_FILES, "tiny/big.txt": b"0" * 100_000})
    resp = _upload(dana, bomb)
    assert resp.status_code == 409 and "per file" in resp.get_data(as_text=True)


def test_a_zip_round_trips_as_a_new_template_and_downloads_with_the_same_files(app):
    dana = Staff(app, "dana")
    resp = _upload(dana, _zip(TINY_FILES), "tiny-copy")
    assert resp.status_code == 303
    version = state(app).versions.latest("tiny-copy")
    assert version.author == "dana" and b"name: tiny-copy" in state(app).versions.file(version, "template.yaml")
    down = dana.get(f"/t/tiny-copy/download?v={version.id}")
    names = zipfile.ZipFile(io.BytesIO(down.data)).namelist()
    assert sorted(names) == sorted(n.replace("tiny/", "tiny-copy/") for n in TINY_FILES)
    assert _upload(dana, down.data).status_code == 303
    assert state(app).versions.latest("tiny-copy").id == version.id  # the same files: the same version


def test_a_problem_is_shown_at_its_file_and_line_and_a_fix_makes_it_valid(app):
    dana = Staff(app, "dana")
    v = state(app).versions.latest("payment-reminder")
    text = state(app).versions.file(v, "template.yaml").decode()
    broken = text.replace("  fps: 30", "  fps: thirty", 1)
    line = broken.splitlines().index("  fps: thirty") + 1
    assert dana.post("/t/payment-reminder/save", {"base": v.id, "file": "template.yaml", "content": broken}).status_code == 303
    bad = state(app).versions.latest("payment-reminder")
    page = dana.get(f"/t/payment-reminder?v={bad.id}").get_data(as_text=True)
    assert f"template.yaml:{line}</code>" in page and "is not of type" in page
    assert f'data-line="{line}"' in page  # next to the text, at its line
    listing = dana.get("/", headers={"Accept": "application/json"}).get_json()
    assert {t["name"]: t["valid"] for t in listing["templates"]}["payment-reminder"] is False
    submit = dana.post("/t/payment-reminder/submit", {"v": bad.id})
    assert submit.status_code == 409 and "fix them" in submit.get_data(as_text=True)
    back = dana.post("/t/payment-reminder/save", {"base": bad.id, "file": "template.yaml", "content": text})
    assert back.status_code == 303 and f"v={v.id}&" in back.headers["Location"]  # the same files as before: that version again
    fixed = state(app).versions.get(v.id)
    assert 'id="validation">valid' in dana.get(f"/t/payment-reminder?v={fixed.id}").get_data(as_text=True)
    diff = dana.get(f"/t/payment-reminder/diff?a={v.id}&b={bad.id}", headers={"Accept": "application/json"}).get_json()
    assert list(diff["files"]) == ["template.yaml"] and "+  fps: thirty" in diff["files"]["template.yaml"]


def _still(staff: Staff, name: str, version_id: int, **query) -> tuple[Image.Image, str]:
    from urllib.parse import urlencode

    resp = staff.get(f"/t/{name}/still.png?" + urlencode({"v": version_id, **query}))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return Image.open(io.BytesIO(resp.data)).convert("RGB"), resp.headers["X-Scene"]


def test_the_scene_list_says_which_scenes_a_row_sees_and_why_and_overrides_change_it(app):
    vic = Staff(app, "vic")  # a viewer may look
    v = state(app).versions.latest("payment-reminder")
    base = {"v": v.id, "source": "sample:sample-customers.csv"}

    def scenes(**q):
        from urllib.parse import urlencode

        data = vic.get("/t/payment-reminder/timeline?" + urlencode({**base, **q})).get_json()
        return {s["id"]: s for s in data["scenes"]}, data

    rows = vic.get(f"/t/payment-reminder/preview?v={v.id}").get_data(as_text=True)
    assert 'id="scrubber"' in rows and "row 2" in rows
    small, _ = scenes(row=2)   # R-0001: 69.30 due, no instalment offer
    big, _ = scenes(row=6)     # R-0005: 189.40 due, the offer plays
    offer = [sid for sid, s in big.items() if s["when"] and s["plays"] and not small[sid]["plays"]]
    assert offer, (small, big)
    assert "→ false" in small[offer[0]]["reason"] and "→ true" in big[offer[0]]["reason"]
    assert small[offer[0]]["start"] is None and big[offer[0]]["start"] is not None
    friendly, firm = _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=2, at=1, variant="friendly"), \
        _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=2, at=1, variant="firm")
    assert np.asarray(friendly[0]).tobytes() != np.asarray(firm[0]).tobytes()
    en, _ = _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=2, at=1)
    ar, _ = _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=2, at=1, locale="ar")
    assert np.asarray(en).tobytes() != np.asarray(ar).tobytes()
    bad = vic.get(f"/t/payment-reminder/still.png?v={v.id}&source=sample:sample-customers.csv&row=2&locale=xx")
    assert bad.status_code == 422 and "not one of this template" in bad.get_data(as_text=True)


def test_a_still_is_the_frame_the_renderer_bakes(app, settings, tmp_path):
    """Tiny template, real encode: every 3rd frame of the baked video against the still at the same time."""
    import av

    from renderer.cache import SegmentCache
    from renderer.video import render_video
    from studio.previewer import Choice, context

    dana = Staff(app, "dana")
    assert _upload(dana, _zip(TINY_FILES)).status_code == 303
    v = state(app).versions.latest("tiny")
    template = state(app).workspace.template(v)
    choice = Choice(state(app).workspace.folder(v) / "sample-customers.csv", 2, "wide")
    result = render_video(template, context(template, choice), tmp_path / "video", SegmentCache(tmp_path / "cache"), 1, "wide")
    with av.open(str(result.video)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 14
    scores = []
    for n in range(0, len(frames), 3):
        still, _scene = _still(dana, "tiny", v.id, source="sample:sample-customers.csv", row=2, rendition="wide", at=n / 10)
        scores.append(ssim(np.asarray(still.convert("L")), frames[n]))
    assert min(scores) > 0.9, scores
    print('SSIM still vs baked frame:', [round(x, 3) for x in scores])


def test_a_scene_is_resolved_once_then_scrubbing_only_composites(app, monkeypatch):
    import studio.previewer as previewer
    from studio.previewer import Choice

    st = state(app)
    v = st.versions.latest("payment-reminder")
    resolved = []
    real = previewer.resolve_scene
    monkeypatch.setattr(previewer, "resolve_scene", lambda *a, **k: resolved.append(a[1].id) or real(*a, **k))
    choice = Choice(st.workspace.folder(v) / "sample-customers.csv", 2)
    stills = [st.previews.still(v, choice, at) for at in (1.0, 1.2, 1.4, 1.0)]
    assert len(resolved) == 1 and {s[1] for s in stills} == {resolved[0]}
    assert stills[0][0] == stills[3][0] and stills[0][0][:8] == b"\x89PNG\r\n\x1a\n"
    assert [round(s[2], 2) for s in stills] == [1.0, 1.2, 1.4, 1.0]


def test_rows_of_an_uploaded_csv_are_previewed_only_by_the_one_who_uploaded_them(app):
    dana, abe = Staff(app, "dana"), Staff(app, "abe")
    v = state(app).versions.latest("payment-reminder")
    data = (REMINDER_DIR / "sample-customers.csv").read_bytes()
    resp = dana.post("/t/payment-reminder/preview/upload", {"v": v.id, "customers": (io.BytesIO(data), "mine.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 303
    source = re.search(r"source=(upload[^&]+)", resp.headers["Location"]).group(1).replace("%3A", ":")
    assert dana.get(f"/t/payment-reminder/still.png?v={v.id}&source={source}&row=3&at=1").status_code == 200
    assert abe.get(f"/t/payment-reminder/still.png?v={v.id}&source={source}&row=3&at=1").status_code == 400
    wrong = dana.post("/t/payment-reminder/preview/upload", {"v": v.id, "customers": (io.BytesIO(b"x"), "x.exe")},
                      content_type="multipart/form-data")
    assert wrong.status_code == 400 and ".csv or .jsonl" in wrong.get_data(as_text=True)


def test_clip_frames_asked_in_any_order_are_the_frames_of_a_decode_from_the_start():
    """Scrubbing a scene over a background clip keeps one forward decoder per clip (renderer/clip.py)."""
    import av

    from helpers.samples import ROOT
    from renderer.clip import clip_frame, cover

    path = str(ROOT / "assets" / "brand" / "bg-loop.mp4")
    asked = (5, 6, 7, 80, 3, 0, 40, 41, 122)  # forward, back, wrapped round (the clip has 120 frames)
    with av.open(path) as container:
        reference = {i: np.asarray(cover(f.to_image(), 96, 54)) for i, f in enumerate(container.decode(video=0)) if i in {n % 120 for n in asked}}
    for n in asked:
        assert np.array_equal(np.asarray(clip_frame(path, n, 96, 54)), reference[n % 120]), n


def test_a_draft_is_checked_as_one_types_and_nothing_is_saved(app):
    dana = Staff(app, "dana")
    v = state(app).versions.latest("payment-reminder")
    text = state(app).versions.file(v, "template.yaml").decode()
    broken = dana.post("/t/payment-reminder/check", {"base": v.id, "file": "template.yaml", "content": text.replace("  fps: 30", "  fps: -1", 1)})
    answer = broken.get_json()
    assert broken.status_code == 200 and answer["valid"] is False
    assert [(f["file"], f["line"]) for f in answer["findings"]] == [("template.yaml", text.splitlines().index("  fps: 30") + 1)]
    assert dana.post("/t/payment-reminder/check", {"base": v.id, "file": "template.yaml", "content": text}).get_json() == {"valid": True, "findings": []}
    assert [x.id for x in state(app).versions.history("payment-reminder")] == [v.id]
    assert Staff(app, "vic").post("/t/payment-reminder/check", {"base": v.id, "file": "template.yaml", "content": text}).status_code == 403


def test_yaml_that_would_explode_when_checked_is_refused(app):
    dana = Staff(app, "dana")
    v = state(app).versions.latest("payment-reminder")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefghijklmnopqrstuvwx", "bcdefghijklmnopqrstuvwxy", strict=True))
    resp = dana.post("/t/payment-reminder/save", {"base": v.id, "file": "strings/en.yaml", "content": laughs})
    assert resp.status_code == 409 and "YAML aliases" in resp.get_data(as_text=True)
    assert state(app).versions.latest("payment-reminder").id == v.id


@pytest.mark.e2e
def test_real_size_stills_are_the_frames_of_the_published_video(app, settings):
    """payment-reminder, row 2, published as a run publishes it: its landscape video against the stills."""
    import av

    from studio.previewer import Choice
    from tailorcast.payments.links import derive_key
    from tailorcast.settings import Settings

    st = state(app)
    v = st.versions.latest("payment-reminder")
    samples = st.workspace.folder(v) / "sample-customers.csv"
    job = st.renders.start(st.workspace.template(v), v.id, samples, 2, None,
                           Settings(state_dir=st.config.state_dir, secret=derive_key(b"s" * 40, "preview")))
    deadline = time.time() + 300
    while job.state == "rendering" and time.time() < deadline:
        time.sleep(0.5)
    assert job.state == "done", job.error
    with av.open(str(st.renders.folder(job.key) / job.videos["landscape"])) as container:
        fps = float(container.streams.video[0].average_rate)
        frames = {i: f.to_ndarray(format="gray") for i, f in enumerate(container.decode(video=0)) if i % 45 == 10}
    template = st.workspace.template(v)
    scores = {}
    for n, frame in frames.items():
        png, scene, _local = st.previews.still(v, Choice(samples, 2, "landscape"), n / fps)
        scores.setdefault("pay_link" in template.scene(scene).names, []).append(ssim(np.asarray(Image.open(io.BytesIO(png)).convert("L")), frame))
    # A scene that shows the pay link (its QR code) differs: a run signs the link with the customer's token of that run.
    assert len(scores[False]) >= 6 and min(scores[False]) > 0.98, scores
    assert min(scores.get(True, [1.0])) > 0.8, scores


def test_resolved_scenes_kept_for_scrubbing_are_bounded_by_their_bytes(app, monkeypatch):
    """Per studio process: a 4K rendition's scenes would otherwise hold gigabytes."""
    import studio.previewer as previewer

    vic = Staff(app, "vic")
    v = state(app).versions.latest("payment-reminder")
    _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=2, at=0.5)
    one = state(app).previews.cached()[1]
    assert one > 1024 * 1024  # a 1280x720 scene holds megabytes of pixels
    monkeypatch.setattr(previewer, "CACHE_SCENE_BYTES", int(one * 2.5))
    for row in (2, 3, 4, 5):
        for at in (0.5, 4, 8):
            _still(vic, "payment-reminder", v.id, source="sample:sample-customers.csv", row=row, at=at)
            count, size = state(app).previews.cached()
            assert size <= int(one * 2.5) * 1.5 and count <= 3, (count, size)
