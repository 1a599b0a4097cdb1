"""Content-addressed files on disk: each file is stored once under its SHA-256, never rewritten."""

import hashlib
import os
import re
import tempfile
from pathlib import Path

from .errors import Unavailable

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StorageError(Unavailable):
    """The file could not be stored."""

    message = "Filen kunde inte sparas: lagringen är full eller skrivskyddad."


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    def __init__(self, root):
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        if not _SHA256.fullmatch(digest):
            raise KeyError(digest)  # never let a caller's string become a path
        return self.root / digest[:2] / digest

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
        return self.path_for(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        try:
            return self.path_for(digest).exists()
        except KeyError:
            return False
