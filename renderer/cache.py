"""Content-addressed cache of encoded segments and audio beds, shared by every run on a machine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


class SegmentCache:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __reduce__(self):
        return (SegmentCache, (str(self.root),))

    def path(self, kind: str, key: str, ext: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.{ext}"

    def get(self, kind: str, key: str, ext: str) -> Path | None:
        p = self.path(kind, key, ext)
        return p if p.is_file() and p.stat().st_size > 0 else None

    def put_bytes(self, kind: str, key: str, ext: str, data: bytes) -> Path:
        target = self.path(kind, key, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix="." + ext)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        return target

    def get_or_make(self, kind: str, key: str, ext: str, make: Callable[[Path], None]) -> tuple[Path, bool]:
        """The cached file, making it with ``make(tmp_path)`` when missing; (path, was_hit)."""
        hit = self.get(kind, key, ext)
        if hit is not None:
            return hit, True
        target = self.path(kind, key, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix="." + ext)
        os.close(fd)
        try:
            make(Path(tmp))
            os.replace(tmp, target)  # atomic: concurrent makers of one key write the same bytes
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target, False
