"""The S3 bucket (AWS or any S3-compatible store), the only module importing boto3."""

from __future__ import annotations

from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, NoCredentialsError

from . import keys
from .errors import StorageError, TransientError

MIB = 1024 * 1024
# Videos of a few MB go up in 5 MiB parts (S3's minimum), in parallel.
TRANSFER = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "503", "500"}


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
            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
            )
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
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
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
