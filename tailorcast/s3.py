"""The S3 bucket (AWS or any S3-compatible store), the only module importing boto3.

``S3Bucket`` is where a run publishes; ``open_object`` reads one object (a customers file) as a
seekable stream, so a file of any size is read in constant memory.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, NoCredentialsError

from . import keys
from .errors import InputError, StorageError, TransientError

MIB = 1024 * 1024
# Videos of a few MB go up in 5 MiB parts (S3's minimum), in parallel.
TRANSFER = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "503", "500"}
_DENIED_CODES = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
READ_ATTEMPTS = 4  # a customers stream that breaks is resumed where it stopped, this many times


def make_client(endpoint_url: str | None):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


class S3Bucket:
    def __init__(self, name: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.name = name
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self._client = None

    def __reduce__(self):
        return (S3Bucket, (self.name, self.prefix, self.endpoint_url))

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.endpoint_url)
        return self._client

    def _error(self, exc: Exception, key: str = "") -> StorageError:
        where = self.describe(key)
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", str(exc))
            if code in _TRANSIENT_CODES:
                return TransientError(where, f"{code}: {msg}")
            if code in ("NoSuchBucket", "404"):
                return StorageError(where, f"bucket does not exist; create it or fix the name ({code})")
            if code in _DENIED_CODES:
                return StorageError(where, f"access denied ({code}); check the credentials and the bucket policy")
            return StorageError(where, f"{code}: {msg}")
        if isinstance(exc, NoCredentialsError):
            return StorageError(where, "no credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) where the run and its workers start")
        if isinstance(exc, BotoConnectionError):
            return TransientError(where, f"cannot connect ({exc}); check --endpoint-url and the network")
        return StorageError(where, str(exc))

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.name)
        except (BotoCoreError, ClientError) as exc:
            err = self._error(exc)
            raise StorageError(err.target, err.message) from exc

    def _extra(self, key: str) -> dict:
        return {"ContentType": keys.content_type(key), "CacheControl": keys.cache_control(key)}

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.name, Key=self.prefix + key, Body=data, **self._extra(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def put_new(self, key: str, data: bytes) -> bool:
        try:
            self.client.put_object(Bucket=self.name, Key=self.prefix + key, Body=data, IfNoneMatch="*", **self._extra(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise self._error(exc, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, key) from exc

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.client.upload_file(
                str(path), self.name, self.prefix + key, ExtraArgs=self._extra(key), Config=TRANSFER
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.name, Key=self.prefix + key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(exc, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, key) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.name, Key=self.prefix + key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._error(exc, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, key) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=self.prefix + key)  # 204 also when it was not there
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key) from exc

    def list_keys(self, prefix: str) -> list[str]:
        out = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=self.prefix + prefix):
                out += [o["Key"][len(self.prefix):] for o in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, prefix) from exc
        return sorted(out)

    def describe(self, key: str = "") -> str:
        return f"s3://{self.name}/{self.prefix}{key}"


class ObjectReader(io.RawIOBase):
    """One S3 object as a read-only, seekable file.

    Reads stream the body of one GET from the current position; a seek elsewhere starts a ranged GET
    there (Parquet reads its footer, then its column chunks). A body that breaks mid-read is resumed
    where it stopped, on the same version of the object (``If-Match`` its ETag)."""

    def __init__(self, client, bucket: str, key: str, size: int, etag: str) -> None:
        super().__init__()
        self._client, self.bucket, self.key, self.size, self.etag = client, bucket, key, size, etag
        self._pos = 0
        self._body = None
        self._body_pos = -1

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
        self._body, self._body_pos = None, -1

    def close(self) -> None:
        self._drop_body()
        super().close()

    def readinto(self, buffer) -> int:
        if self._pos >= self.size or not len(buffer):
            return 0
        if self._body_pos != self._pos:
            self._drop_body()
        for attempt in range(READ_ATTEMPTS):
            try:
                if self._body is None:
                    got = self._client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self._pos}-", IfMatch=self.etag)
                    self._body, self._body_pos = got["Body"], self._pos
                data = self._body.read(len(buffer))
                if not data:
                    raise InputError(self.where, f"the object ended at byte {self._pos} of {self.size}; it changed while it was read: run again")
                buffer[: len(data)] = data
                self._pos += len(data)
                self._body_pos = self._pos
                return len(data)
            except ClientError as exc:
                self._drop_body()
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("PreconditionFailed", "412"):
                    raise InputError(self.where, "the object was replaced while it was read; run again on the new file") from exc
                if code not in _TRANSIENT_CODES or attempt == READ_ATTEMPTS - 1:
                    raise _input_error(self.where, exc) from exc
            except BotoCoreError as exc:
                self._drop_body()
                if attempt == READ_ATTEMPTS - 1:
                    raise InputError(self.where, f"reading stopped at byte {self._pos} after {READ_ATTEMPTS} attempts ({exc}); run again") from exc
            time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def _input_error(where: str, exc: Exception) -> InputError:
    """A customers object that cannot be read, said for the operator."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return InputError(where, "no such object; check the bucket name and the key (s3://BUCKET/KEY)")
        if code == "NoSuchBucket":
            return InputError(where, "the bucket does not exist; check its name")
        if code in _DENIED_CODES:
            return InputError(where, f"access denied ({code}); check the credentials and the bucket policy")
        return InputError(where, f"{code}: {exc.response.get('Error', {}).get('Message', exc)}")
    if isinstance(exc, NoCredentialsError):
        return InputError(where, "no credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
    if isinstance(exc, BotoConnectionError):
        return InputError(where, f"cannot connect ({exc}); check --endpoint-url and the network")
    return InputError(where, str(exc))


def open_object(bucket: str, key: str, endpoint_url: str | None = None) -> ObjectReader:
    """The object ``s3://bucket/key`` to read as a file; InputError when it cannot be read."""
    client = make_client(endpoint_url)
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise _input_error(f"s3://{bucket}/{key}", exc) from exc
    return ObjectReader(client, bucket, key, int(head["ContentLength"]), head["ETag"])
