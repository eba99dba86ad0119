"""What fuzzing the studio over HTTP found: each input is refused with a message, never a 500 or a long hang."""

from __future__ import annotations

import html
import io
import time
import zipfile

import pytest

from helpers.studio import Staff, seeded_app, state


@pytest.fixture(scope="module")
def app(settings, studio_seed, tmp_path_factory):
    return seeded_app(settings, studio_seed, tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def dana(app):
    return Staff(app, "dana")


def _zip(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for path, data in files.items():
            archive.writestr(f"t/{path}", data)
    return buf.getvalue()


def _upload(dana, data: bytes):
    return dana.post("/upload", {"zip": (io.BytesIO(data), "t.zip")}, content_type="multipart/form-data")


def _files(app):
    return state(app).versions.files(state(app).versions.latest("payment-reminder"))


def test_a_zip_whose_entry_cannot_be_read_is_refused_with_its_name(app, dana):
    good = _zip(_files(app))
    corrupt = bytearray(good)
    corrupt[len(good) // 3:len(good) // 3 + 50] = b"\xff" * 50  # inside a compressed stream: a bad CRC or a broken stream
    resp = _upload(dana, bytes(corrupt))
    assert resp.status_code == 409 and "cannot be read" in resp.get_data(as_text=True)
    stored = _zip(_files(app), zipfile.ZIP_STORED)  # compression method 99, which zipfile cannot read
    unknown = stored.replace(b"PK\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00", b"PK\x01\x02\x14\x03\x14\x00\x00\x00\x63\x00")
    resp = _upload(dana, unknown)
    assert resp.status_code == 409 and "zip the template folder again" in resp.get_data(as_text=True)


def test_yaml_nested_thousands_deep_is_refused_within_seconds_in_the_editor_and_in_a_zip(app, dana, monkeypatch):
    from studio import inputs

    monkeypatch.setattr(inputs, "YAML_SCAN_SECONDS", 0.5)  # PyYAML's time grows with the square of the nesting
    latest = state(app).versions.latest("payment-reminder")
    deep = "x: " + "[" * 20000 + "]" * 20000 + "\n"  # unbounded: ~25 s to scan
    started = time.process_time()
    resp = dana.post("/t/payment-reminder/check", {"base": str(latest.id), "file": "template.yaml", "content": deep},
                     headers={"Accept": "application/json"})
    assert resp.status_code == 409 and "nested far too deeply" in resp.get_json()["error"]
    assert resp.get_json()["error"].startswith("template.yaml: ")
    files = _files(app)
    files["strings/en.yaml"] = deep.encode()
    resp = _upload(dana, _zip(files))
    assert resp.status_code == 409 and "strings/en.yaml: reading this YAML took more than" in resp.get_data(as_text=True)
    assert time.process_time() - started < 10


def test_a_timeline_or_a_render_of_a_version_with_problems_says_so(app, dana):
    st = state(app)
    latest = st.versions.latest("payment-reminder")
    files = st.versions.files(latest)
    files["template.yaml"] += b"\nbogus: 1\n"
    bad, _ = st.versions.save("payment-reminder", files, "dana", st.now(), parent_id=latest.id)
    resp = dana.get(f"/t/payment-reminder/timeline?v={bad.id}&row=2", headers={"Accept": "application/json"})
    assert resp.status_code == 422 and "bogus" in resp.get_json()["error"]
    resp = dana.post("/t/payment-reminder/render", {"v": str(bad.id), "row": "2"})
    assert resp.status_code == 409 and "has problems" in resp.get_data(as_text=True)


@pytest.mark.parametrize("token", ["².1.x", "1.².x", "١.1.x", "9" * 30 + ".1.x"])
def test_a_review_link_with_digits_int_refuses_or_that_are_not_ascii_is_not_a_review_link(app, token):
    resp = app.test_client().get(f"/r/{token}")
    assert resp.status_code == 403 and "this is not a review link" in resp.get_data(as_text=True)


def test_a_zip_that_holds_a_name_twice_is_refused(app, dana):
    files = _files(app)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path, data in files.items():
            archive.writestr(f"t/{path}", data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("t/template.yaml", b"name: other\n")  # the second would have won, silently
    resp = _upload(dana, buf.getvalue())
    assert resp.status_code == 409 and "'t/template.yaml' is in the zip twice" in html.unescape(resp.get_data(as_text=True))


def test_a_customers_file_that_cannot_be_used_is_named_by_its_name_not_the_servers_path(app, dana):
    import re

    v = state(app).versions.latest("bill-explainer")  # (the tests above leave payment-reminder with problems)
    resp = dana.post("/t/bill-explainer/preview/upload", {"v": v.id, "customers": (io.BytesIO(b"foo,bar\n1,2\n"), "mine.csv")},
                     content_type="multipart/form-data")
    source = re.search(r"source=(upload[^&]+)", resp.headers["Location"]).group(1).replace("%3A", ":")
    for url in (f"/t/bill-explainer/preview?v={v.id}&source={source}", f"/t/bill-explainer/timeline?v={v.id}&source={source}&row=2"):
        page = html.unescape(dana.get(url).get_data(as_text=True))
        assert re.search(r"customers file '[\w-]+\.csv': missing columns customer_id", page), (url, page[-800:])
        assert str(state(app).config.work_dir) not in page


def test_a_still_or_timeline_without_a_row_is_of_the_files_first_valid_row(app, dana):
    v = state(app).versions.latest("bill-explainer")
    for url in (f"/t/bill-explainer/still.png?v={v.id}&at=1", f"/t/bill-explainer/timeline?v={v.id}"):
        resp = dana.get(url)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[-500:])  # was 422 "no row 0"
    first = dana.get(f"/t/bill-explainer/still.png?v={v.id}&at=1")
    assert first.data == dana.get(f"/t/bill-explainer/still.png?v={v.id}&at=1&row=2").data  # row 2 of the sample is valid
