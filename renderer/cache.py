"""Content-addressed cache of encoded segments and audio tracks, shared by every run on a machine.

    <cache>/segments/ab/<key>.mp4             shared scenes: no customer data, any run reuses them
    <cache>/personal/<scope>/ab/<key>.mp4     a customer's scenes, kept apart per run (scope: the run id)
    <cache>/audio/…  <cache>/live/…           audio tracks and live-mode base videos: no customer data

Personal segments hold personal data, so they are kept apart: ``drop_personal`` removes one run's,
and ``prune`` removes every file not used for a while (a cache hit refreshes a file's time).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PERSONAL = "personal"  # the kind of a customer's scene segments
DEFAULT_SCOPE = "unscoped"  # personal segments made outside a run (previews, benchmarks)
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Removed:
    """What a clean-up removed: a count and a size, never a name (names are content hashes of personal scenes)."""

    files: int = 0
    bytes: int = 0

    def __add__(self, other: "Removed") -> "Removed":
        return Removed(self.files + other.files, self.bytes + other.bytes)


class SegmentCache:
    def __init__(self, root: Path | str, scope: str | None = None) -> None:
        """``scope``: the run whose personal segments this cache writes (default: ``unscoped``)."""
        self.root = Path(root)
        self.scope = scope or DEFAULT_SCOPE
        if not _SCOPE.fullmatch(self.scope):
            raise ValueError(f"cache scope {self.scope!r} must be 1-128 letters, digits, '.', '_' or '-' (a run id)")

    def __reduce__(self):
        return (SegmentCache, (str(self.root), self.scope))

    def _dir(self, kind: str) -> Path:
        return self.root / kind / self.scope if kind == PERSONAL else self.root / kind

    def path(self, kind: str, key: str, ext: str) -> Path:
        return self._dir(kind) / key[:2] / f"{key}.{ext}"

    def get(self, kind: str, key: str, ext: str) -> Path | None:
        p = self.path(kind, key, ext)
        try:
            if p.stat().st_size == 0:
                return None
            os.utime(p)  # used now: prune keeps what runs still use
        except FileNotFoundError:
            return None
        return p

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

    def drop_personal(self) -> Removed:
        """Remove this scope's personal segments (a run's, when it ends)."""
        folder = self._dir(PERSONAL)
        removed = _sizes(folder)
        if folder.is_dir():
            shutil.rmtree(folder)
        return removed

    def prune(self, older_than: float, now: float | None = None) -> Removed:
        """Remove every cached file (any kind, any scope) not used for ``older_than`` seconds, and empty folders."""
        cutoff = (time.time() if now is None else now) - older_than
        removed = Removed()
        if not self.root.is_dir():
            return removed
        for dirpath, _dirnames, filenames in os.walk(self.root, topdown=False):
            for name in filenames:
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                    if st.st_mtime < cutoff:
                        p.unlink()
                        removed += Removed(1, st.st_size)
                except FileNotFoundError:  # removed meanwhile by another clean-up: nothing left to do
                    continue
            folder = Path(dirpath)
            if folder != self.root and not any(folder.iterdir()):
                try:
                    folder.rmdir()
                except OSError as exc:  # a run wrote into it meanwhile (keep it), or another prune removed it
                    if exc.errno not in (errno.ENOTEMPTY, errno.ENOENT):
                        raise
        return removed


def _sizes(folder: Path) -> Removed:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return Removed(len(files), sum(p.stat().st_size for p in files))
