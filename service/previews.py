"""Previews of drafts: not records, so kept out of the permanent file store.

A preview PDF lives in a bounded cache folder under the instance, named after the
agreement and a key of its template and data: an unchanged draft is shown again
without LibreOffice, a changed one gets a new file, and the oldest files go when the
cache is full. A preview is served only under the agreement it was made for.
LibreOffice work for previews is limited to a few at a time, so previews can never
occupy every worker thread.
"""

import hashlib
import io
import json
import os
import re
import tempfile
import threading
from pathlib import Path

import pikepdf

from .documents import fill_agreement
from .errors import Unavailable

_KEY = re.compile(r"[0-9a-f]{64}")
DRAFT_MARK = "UTKAST – inte för signering"
BUSY = "Många förhandsgranskningar görs just nu. Försök igen om en stund."


def preview_key(template_sha256, data) -> str:
    """The same template and data give the same key, so the same preview."""
    canonical = json.dumps([template_sha256, data], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class PreviewCache:
    def __init__(self, root, max_files=200, concurrent=2):
        self.root = Path(root)
        self.max_files = max_files
        self._slots = threading.BoundedSemaphore(concurrent)

    def _path(self, agreement_id: int, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise KeyError(key)  # never let a caller's string become a path
        return self.root / f"{int(agreement_id)}-{key}.pdf"

    def get(self, agreement_id: int, key: str) -> bytes | None:
        """The preview of this agreement under `key`, or None (unknown, evicted, another agreement's)."""
        try:
            return self._path(agreement_id, key).read_bytes()
        except (KeyError, FileNotFoundError):
            return None

    def put(self, agreement_id: int, key: str, pdf: bytes) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        with os.fdopen(fd, "wb") as f:
            f.write(pdf)
        os.replace(tmp, self._path(agreement_id, key))
        self._evict()

    def _evict(self):
        previews = sorted(self.root.glob("*.pdf"), key=lambda p: p.stat().st_mtime)
        for old in previews[: max(0, len(previews) - self.max_files)]:
            old.unlink(missing_ok=True)

    def render(self, office, agreement_id: int, model, data, template_sha256, template: bytes | None):
        """(key, pdf) of the draft's preview: from the cache, or filled and converted now."""
        key = preview_key(template_sha256, data)
        if (pdf := self.get(agreement_id, key)) is not None:
            os.utime(self._path(agreement_id, key))  # recently used: evicted last
            return key, pdf
        if not self._slots.acquire(blocking=False):  # refuse rather than wait: a waiting thread is taken too
            raise Unavailable(BUSY, retry_after=5)
        try:
            pdf = mark_as_draft(office.convert(fill_agreement(model, template=template)))
        finally:
            self._slots.release()
        self.put(agreement_id, key, pdf)
        return key, pdf


def mark_as_draft(pdf: bytes) -> bytes:
    """DRAFT_MARK at the top and bottom of every page, in red Helvetica, so a preview is never
    taken for a locked version (which is sealed; a preview never is)."""
    mark = pikepdf.String(DRAFT_MARK.encode("cp1252"))
    with pikepdf.open(io.BytesIO(pdf)) as document:
        font = document.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type1,
                BaseFont=pikepdf.Name.Helvetica,
                Encoding=pikepdf.Name.WinAnsiEncoding,
            )
        )
        for page in document.pages:
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            name = page.add_resource(font, pikepdf.Name.Font, prefix="Utkast")
            page.contents_add(document.make_stream(b"q"), prepend=True)  # the page's own state ends at Q
            lines = [
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("Q")),
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("q")),
                pikepdf.ContentStreamInstruction([0.75, 0, 0], pikepdf.Operator("rg")),
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("BT")),
                pikepdf.ContentStreamInstruction([name, 11], pikepdf.Operator("Tf")),
            ]
            for y in (y1 - 22, y0 + 12):
                lines.append(pikepdf.ContentStreamInstruction([1, 0, 0, 1, x0 + 40, y], pikepdf.Operator("Tm")))
                lines.append(pikepdf.ContentStreamInstruction([mark], pikepdf.Operator("Tj")))
            lines += [
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("ET")),
                pikepdf.ContentStreamInstruction([], pikepdf.Operator("Q")),
            ]
            page.contents_add(document.make_stream(pikepdf.unparse_content_stream(lines)), prepend=False)
        out = io.BytesIO()
        document.save(out)
    return out.getvalue()
