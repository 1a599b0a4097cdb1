"""Content-addressed files: each file is stored once under its SHA-256, never rewritten,
and checked against that SHA-256 when read back. On disk (`FileStore`, the embedded
default) or in S3-compatible object storage (`ObjectStore`, AVTAL_STORAGE_URL=s3://...)."""

import hashlib
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import Unavailable

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StorageError(Unavailable):
    """The file could not be stored."""

    message = "Filen kunde inte sparas: lagringen är full eller skrivskyddad."


UNREADABLE = "Filen kunde inte läsas från lagringen. Försök igen om en stund."
CORRUPT = "Den lagrade filen stämmer inte med sin kontrollsumma (SHA-256)."


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(digest: str, data: bytes) -> bytes:
    """The bytes read back, if they are still what was stored under `digest`."""
    if sha256_hex(data) != digest:
        raise StorageError(CORRUPT)
    return data


def _valid(digest: str) -> str:
    if not _SHA256.fullmatch(digest):
        raise KeyError(digest)  # never let a caller's string become a path or key
    return digest


def make_store(config):
    """Object storage when AVTAL_STORAGE_URL names a bucket, else the folder AVTAL_STORAGE_DIR."""
    if config.get("STORAGE_URL"):
        return ObjectStore(config["STORAGE_URL"])
    return FileStore(config["STORAGE_DIR"])


class FileStore:
    def __init__(self, root):
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / _valid(digest)

    def put(self, data: bytes) -> str:
        """Store `data` and return its SHA-256; storing the same bytes twice is a no-op."""
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if target.exists():
            return digest
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.parent.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o400)  # read-only, and for the service's user alone
                os.link(tmp, target)  # fails rather than replace an existing file
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise StorageError() from exc
        return digest

    def get(self, digest: str) -> bytes:
        return _checked(digest, self.path_for(digest).read_bytes())

    def exists(self, digest: str) -> bool:
        try:
            return self.path_for(digest).exists()
        except KeyError:
            return False

    def remove(self, digest: str) -> None:
        """Remove a file that is not a record (retention.py decides which); gone already is fine."""
        try:
            self.path_for(digest).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError() from exc

    def digests(self):
        """The SHA-256 of every stored file (for backups)."""
        if self.root.is_dir():
            for path in sorted(self.root.glob("??/*")):
                if _SHA256.fullmatch(path.name):
                    yield path.name

    def check(self):
        """Raise StorageError unless files can be stored here (for start-up and /readyz)."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError() from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError()


class ObjectStore:
    """Content-addressed files in an S3-compatible bucket: s3://bucket/prefix.

    Endpoint and keys come from boto3's own environment variables (AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION). Every write is
    conditional (If-None-Match: *), so an object, once there, is never replaced: a
    second write of the same file is refused by the store and is a no-op here."""

    def __init__(self, url: str):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(url)
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = boto3.session.Session().client(  # a session of its own: the environment as it is now
            "s3",
            region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def key_for(self, digest: str) -> str:
        return "/".join(p for p in (self.prefix, digest[:2], _valid(digest)) if p)

    def put(self, data: bytes) -> str:
        """Store `data` and return its SHA-256; storing the same bytes twice is a no-op."""
        digest = sha256_hex(data)
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key_for(digest), Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if _status(exc) not in (409, 412):  # 412: already there; 409: being written by another
                raise StorageError() from exc
        except BotoCoreError as exc:
            raise StorageError() from exc
        return digest

    def get(self, digest: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key_for(digest))
            data = response["Body"].read()
        except ClientError as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(digest) from None
            raise StorageError(UNREADABLE) from exc
        except BotoCoreError as exc:
            raise StorageError(UNREADABLE) from exc
        return _checked(digest, data)

    def exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(digest))
            return True
        except KeyError:
            return False
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise StorageError(UNREADABLE) from exc
        except BotoCoreError as exc:
            raise StorageError(UNREADABLE) from exc

    def remove(self, digest: str) -> None:
        """Remove a file that is not a record (retention.py decides which); gone already is fine."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key_for(digest))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError() from exc

    def digests(self):
        """The SHA-256 of every stored file (for backups)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].rpartition("/")[2]
                if _SHA256.fullmatch(name):
                    yield name

    def check(self):
        """Raise StorageError unless the bucket answers to our keys (for start-up and /readyz)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"Lagringen {self.url} svarar inte: {exc}") from exc


def _status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
