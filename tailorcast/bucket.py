"""Where results are published: a local folder or an S3-compatible bucket.

``Bucket`` is the small interface the pipeline writes through; ``LocalBucket``
is the default, ``S3Bucket`` (in :mod:`tailorcast.s3`, the only module that
imports boto3) the production one. Content-Type and Cache-Control come from
:mod:`tailorcast.keys`, so both behave the same.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from . import keys
from .errors import StorageError


class Bucket(Protocol):
    def check(self) -> None:
        """Raise StorageError when the bucket cannot be written."""

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def put_new(self, key: str, data: bytes) -> bool:
        """Write the object only if the key does not exist yet (atomically); False when it already did.
        A write retried after a lost answer therefore stores it once."""

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when it is not there."""

    def describe(self, key: str = "") -> str:
        """A human-readable location (folder path or s3:// URL)."""


STAGING = ".staging"  # a LocalBucket's scratch folder for whole-file writes: private, never published
STAGING_MAX_AGE = 3600.0  # seconds: older staged files are a killed writer's leftovers


class LocalBucket:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def __reduce__(self):
        return (LocalBucket, (str(self.root),))

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(str(self.root), f"refusing key {key!r} outside the bucket")
        return self.root / key

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StorageError(
                str(self.root), f"cannot write there ({exc.strerror}); choose another --out folder"
            ) from exc
        self.sweep_staging()

    def sweep_staging(self, older_than: float = STAGING_MAX_AGE) -> int:
        """Remove what writers killed mid-write left in the staging folder (files older than ``older_than``
        seconds: no write takes that long, so another process's write in progress is never touched)."""
        staging, removed = self.root / STAGING, 0
        if not staging.is_dir():
            return 0
        limit = time.time() - older_than
        for entry in os.scandir(staging):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # another process swept it first
                continue
        return removed

    def _staged(self, path: Path, data: bytes) -> str:
        """``data`` in a temporary file (readable by all) in the bucket's staging folder, on the same file
        system, to rename or link into place whole. Never beside ``path``: a writer killed mid-write (a worker
        node lost, SIGKILL) must not leave a partial file in a folder that is published."""
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.root / STAGING
        staging.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=staging, prefix="tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._staged(path, data)  # write then rename, so a reader never sees half a file
        try:
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path) -> None:
        self.put_bytes(key, Path(path).read_bytes())

    def put_new(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        tmp = self._staged(path, data)
        try:
            os.link(tmp, path)  # fails when the key exists: create-if-absent, and never half a file
            return True
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.relative_to(self.root).as_posix().startswith(STAGING + "/"))

    def describe(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)


def open_bucket(out: str, endpoint_url: str | None = None) -> Bucket:
    """``public/`` → LocalBucket; ``s3://bucket/prefix`` → S3Bucket."""
    if out.startswith("s3://"):
        from .s3 import S3Bucket

        rest = out[len("s3://") :]
        name, _, prefix = rest.partition("/")
        if not name:
            raise StorageError(out, "no bucket name; write it as s3://BUCKET/PREFIX")
        return S3Bucket(name, prefix, endpoint_url=endpoint_url)
    if "://" in out:
        raise StorageError(out, "unknown scheme; use a folder path or s3://BUCKET/PREFIX")
    return LocalBucket(out)


__all__ = ["Bucket", "LocalBucket", "open_bucket", "keys"]
