"""The shared test helpers measure what they claim: SSIM, QR decoding, and the tier guard's verdicts."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers.pictures import decode_qr, ssim
from helpers.tiers import missing_tier_mark


def test_ssim_is_1_for_equal_and_low_for_different_images():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (64, 64)).astype(float)
    assert ssim(img, img) == pytest.approx(1.0)
    assert ssim(img, rng.integers(0, 255, (64, 64)).astype(float)) < 0.2


def test_ssim_forgives_a_small_tint_and_catches_moved_text():
    img = Image.new("L", (90, 160), 40)
    draw = ImageDraw.Draw(img)
    for k in range(6):
        draw.text((8, 10 + 24 * k), "128,48 EUR", fill=230)
    a = np.asarray(img, dtype=np.float64)
    moved = np.roll(a, 3, axis=1)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, np.clip(a + 3, 0, 255)) > 0.99
    assert ssim(a, moved) < 0.8
    blank = np.full_like(a, 40.0)
    assert ssim(a, blank) < 0.8


def test_decode_qr_reads_what_segno_wrote_and_nothing_from_a_blank():
    import segno

    buf = io.BytesIO()
    segno.make("https://pay.example/?ref=1", error="m").save(buf, kind="png", scale=6)
    assert decode_qr(Image.open(io.BytesIO(buf.getvalue()))) == ["https://pay.example/?ref=1"]
    assert decode_qr(Image.new("RGB", (120, 120), "white")) == []


@pytest.mark.parametrize("fixtures,marks,needed", [
    (["ray_session", "local_run"], [], "e2e"),
    (["chromium", "site"], ["e2e"], "browser"),
    (["chromium", "ray_session"], ["browser"], "e2e"),
    (["postgres", "database_url"], [], "e2e"),
])
def test_tier_guard_names_the_missing_mark(fixtures, marks, needed):
    problem = missing_tier_mark(fixtures, marks)
    assert problem is not None and f"@pytest.mark.{needed}" in problem and "make test-fast" in problem


@pytest.mark.parametrize("fixtures,marks", [
    (["template", "tmp_path"], []),
    (["ray_session"], ["e2e"]),
    (["chromium", "ray_session"], ["browser", "e2e"]),
])
def test_tier_guard_lets_marked_and_fast_tests_through(fixtures, marks):
    assert missing_tier_mark(fixtures, marks) is None


def test_served_folder_answers_its_index_a_range_and_404(tmp_path):
    import urllib.error
    import urllib.request

    from helpers.web import folder_app, serve

    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "v.bin").write_bytes(bytes(range(100)))
    with serve(folder_app(tmp_path)) as base:
        assert urllib.request.urlopen(f"{base}/").read() == b"<p>hi</p>"
        with urllib.request.urlopen(urllib.request.Request(f"{base}/v.bin", headers={"Range": "bytes=10-19"})) as resp:
            assert resp.status == 206 and resp.read() == bytes(range(10, 20))
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/missing.txt")
        assert err.value.code == 404
