"""Each frozen PDF's rendition (page images and HTML text), made once, found by the PDF's SHA-256.

Sending makes it between freezing the PDF and storing the version, so the first party to
open a link finds it ready. A version frozen before renditions existed gets its own on
its first view, once: a lock file per PDF keeps simultaneous first views, in any worker
process, from making it twice. Every view after that only reads: the row is kept in
the app (stored rows never change) and the files are served as stored.
"""

import fcntl
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import signing
from .documents import pages
from .documents.fill import fill_agreement
from .errors import NotFound
from .models import Rendition, Version
from .schema import validate_agreement


@dataclass(frozen=True)
class Facts:
    """A stored rendition, as the party's page uses it."""

    html_sha256: str
    pages: tuple  # ({"width", "height", "png": {"640": sha256, "1280": sha256}}, ...)

    def image(self, number: int, sha256: str) -> bool:
        """Whether page `number` (1-based) has an image with this SHA-256."""
        return 1 <= number <= len(self.pages) and sha256 in self.pages[number - 1]["png"].values()


def make(files, docx: bytes, pdf: bytes) -> dict:
    """Render and store the rendition of `pdf`, which LibreOffice made from `docx`."""
    return pages.make_rendition(files, pdf, docx)


def store(session, pdf_sha256: str, made: dict):
    """Record a rendition; one made meanwhile by another process is kept instead."""
    try:
        with session.begin_nested():
            session.add(Rendition(pdf_sha256=pdf_sha256, **made))
    except IntegrityError:
        pass


class Renditions:
    """The renditions in one app's database and file store, and what the app has read of
    them: stored rows and texts never change, so each is read once (kept on the app, not in
    the module, so that each app, as each test's, knows only its own database)."""

    KEEP = 4096  # rows kept before starting afresh

    def __init__(self, db, files, lock_dir):
        self.db = db
        self.files = files
        self.lock_dir = Path(lock_dir)
        self._known: dict[str, Facts] = {}  # PDF SHA-256 or its prefix -> Facts
        self.html = functools.lru_cache(maxsize=64)(self._html)

    def _remember(self, key, facts) -> Facts:
        if len(self._known) >= self.KEEP:
            self._known.clear()
        self._known[key] = facts
        return facts

    def _stored(self, pdf_sha256) -> Facts:
        """The stored rendition of a PDF, from the database once; LookupError if none."""
        if (facts := self._known.get(pdf_sha256)) is not None:
            return facts
        with self.db.session() as session:
            row = session.scalars(select(Rendition).where(Rendition.pdf_sha256 == pdf_sha256)).first()
            if row is None:
                raise LookupError(pdf_sha256)
            return self._remember(pdf_sha256, Facts(row.html_sha256, tuple(row.pages)))

    def for_version(self, version_id: int, pdf_sha256: str) -> Facts:
        """The rendition of a frozen version, made now if it is the first view of an older version."""
        try:
            return self._stored(pdf_sha256)
        except LookupError:
            pass
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_dir / f"rendition-{pdf_sha256}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one version's first views wait here; other versions do not
            try:
                return self._stored(pdf_sha256)
            except LookupError:
                pass
            with self.db.session() as session:
                version = session.get(Version, version_id)
                data, template_sha256 = version.data, version.template_sha256
            template = self.files.get(template_sha256) if template_sha256 else None
            docx = fill_agreement(validate_agreement(data, for_sending=False), template=template)
            made = make(self.files, docx, self.files.get(pdf_sha256))
            with self.db.session() as session:
                store(session, pdf_sha256, made)
        return self._stored(pdf_sha256)

    def for_token(self, serializer, token) -> Facts:
        """The rendition of the frozen PDF a link token names: the token's signature is checked,
        and once the app knows that version the database is not asked. NotFound otherwise."""
        try:
            _, _, pdf_prefix = signing.read_token(serializer, token)
        except signing.LinkProblem:
            raise NotFound("Sidan finns inte.") from None
        if not re.fullmatch(r"[0-9a-f]{16}", pdf_prefix):
            raise NotFound("Sidan finns inte.")
        if (facts := self._known.get(pdf_prefix)) is not None:
            return facts
        with self.db.session() as session:
            query = select(Rendition.pdf_sha256).where(Rendition.pdf_sha256.startswith(pdf_prefix))
            sha = session.scalars(query).first()
        if sha is None:
            raise NotFound("Sidan finns inte.")
        return self._remember(pdf_prefix, self._stored(sha))

    def _html(self, html_sha256: str):
        """The stored HTML text (read once: `html` keeps the last ones read)."""
        return pages.stored_html(self.files, html_sha256)
