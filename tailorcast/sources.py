"""Where a customers file lives: a local path or ``s3://BUCKET/KEY``; its bytes as a stream, and its fingerprint.

Both kinds are read as a stream in constant memory: a local file through a buffered reader, an S3
object through :func:`tailorcast.s3.open_object` (one GET's body, ranged GETs after a seek).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import InputError

S3_SCHEME = "s3://"
BUFFER = 1 << 20


@dataclass(frozen=True)
class Source:
    location: str  # a path, or s3://BUCKET/KEY
    endpoint_url: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.location.startswith(S3_SCHEME)

    @property
    def suffix(self) -> str:
        """The file's extension in lower case (``.csv``, ``.jsonl``, ``.parquet``)."""
        return PurePosixPath(self.location).suffix.lower()

    def _bucket_key(self) -> tuple[str, str]:
        bucket, _, key = self.location[len(S3_SCHEME) :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise InputError(self.location, "not an object; write it as s3://BUCKET/KEY, for example s3://exports/2026-10/customers.csv")
        return bucket, key

    def check(self) -> None:
        """InputError unless the file (or object) is there to be read."""
        if self.is_s3:
            self.open().close()
            return
        path = Path(self.location)
        if path.is_dir():
            raise InputError(self.location, "is a folder; pass the CRM export file with --customers")
        if path.exists() and not path.is_file():
            raise InputError(self.location, "is not a regular file (a named pipe or a device, which cannot be read twice); save the export to a file and pass that")
        if not path.is_file():
            raise InputError(self.location, "file not found; pass the CRM export with --customers")

    def open(self) -> BinaryIO:
        """The bytes, buffered and seekable; the caller closes it."""
        if self.is_s3:
            from .s3 import open_object

            return io.BufferedReader(open_object(*self._bucket_key(), endpoint_url=self.endpoint_url), BUFFER)
        self.check()
        try:
            return open(self.location, "rb", buffering=BUFFER)
        except OSError as exc:
            raise InputError(self.location, f"cannot be opened ({exc.strerror}); check its permissions") from None

    def fingerprint(self) -> str:
        """A hex digest that changes when the content does: the bytes of a local file; an S3 object's ETag
        and size (reading a billion-row object twice to hash it would double the run's input traffic)."""
        h = hashlib.sha256()
        if self.is_s3:
            from .s3 import open_object

            with open_object(*self._bucket_key(), endpoint_url=self.endpoint_url) as obj:
                h.update(f"s3 {obj.etag} {obj.size}".encode())
            return h.hexdigest()
        with self.open() as fh:
            for chunk in iter(lambda: fh.read(BUFFER), b""):
                h.update(chunk)
        return h.hexdigest()


def source_of(location: str | Path, endpoint_url: str | None = None) -> Source:
    """A Source for a --customers value (a path, or s3://BUCKET/KEY with the same --endpoint-url as --out)."""
    text = str(location)
    if "://" in text and not text.startswith(S3_SCHEME):
        raise InputError(text, "unknown scheme; use a file path or s3://BUCKET/KEY")
    source = Source(text, endpoint_url)
    if source.is_s3:
        source._bucket_key()  # InputError unless it names an object
    return source
