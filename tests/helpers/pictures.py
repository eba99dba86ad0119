"""What a viewer sees, measured: SSIM of two grey images, the text of the QR codes in a picture."""

from __future__ import annotations

import numpy as np


def _box(img: np.ndarray, k: int = 7) -> np.ndarray:
    c = np.cumsum(np.cumsum(np.pad(img, ((1, 0), (1, 0))), 0), 1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (7x7 uniform windows, the usual constants for 8-bit data, as scikit-image's default)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _box(a), _box(b)
    va, vb, cov = _box(a * a) - ma * ma, _box(b * b) - mb * mb, _box(a * b) - ma * mb
    return float(np.mean(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))))


def decode_qr(img) -> list[str]:
    """The text of every QR code zxing-cpp (what a phone's reader does) finds in a PIL image."""
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(np.asarray(img.convert("L")))]
