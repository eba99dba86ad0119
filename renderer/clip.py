"""Background video clips: loop, scale to cover the frame, centre-crop (same rule as the ffmpeg graph)."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

import av
from PIL import Image


@lru_cache(maxsize=64)
def _digest(path: str, mtime: float, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:32]


def file_digest(path: str) -> str:
    st = os.stat(path)
    return _digest(path, st.st_mtime, st.st_size)


@lru_cache(maxsize=16)
def clip_length(path: str) -> int:
    with av.open(path) as c:
        s = c.streams.video[0]
        return s.frames or sum(1 for _ in c.decode(s))


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    scale = max(width / img.width, height / img.height)
    w, h = max(width, round(img.width * scale)), max(height, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - width) // 2, (h - height) // 2
    return img.crop((left, top, left + width, top + height))


def clip_frame(path: str, n: int, width: int, height: int) -> Image.Image:
    """Frame ``n`` of the looping clip, covering ``width`` x ``height`` (for posters and previews)."""
    n %= max(clip_length(path), 1)
    with av.open(path) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n:
                return cover(frame.to_image(), width, height)
    raise ValueError(f"{path}: frame {n} not found")
