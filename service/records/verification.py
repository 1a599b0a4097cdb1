"""Is this PDF intact, sealed by this service, and which document of ours is it?

The seal answers the first two from the file alone (pyHanko); the file's SHA-256
against our records answers the third. Details of a document are told only to someone
who has its exact bytes, since having the file already means having its content.
"""

import io
import logging
import multiprocessing
import re
import resource
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from ..documents import seal
from ..documents.seal import SELF_SIGNED_NOTICE
from ..formatting import local_minute
from ..models import Confirmation, FinalDocument, Version
from ..storage import sha256_hex

log = logging.getLogger(__name__)

UNREADABLE = "Filen är inte en läsbar PDF."
NO_SEAL = "Filen har inget sigill från tjänsten."
BROKEN = "Sigillet är brutet: innehållet har ändrats efter förseglingen."
NOT_COVERED = "Filen har ändrats efter förseglingen: sigillet täcker inte hela filen."
NOT_OURS = "Sigillet är inte gjort med tjänstens certifikat."
UNKNOWN = "Okänt dokument: tjänsten har inte utfärdat exakt den här filen."
TOO_COMPLEX = (
    "Filen är för komplex för att kontrolleras: den har för många ändringar eller objekt. "
    "En fil som tjänsten har utfärdat är aldrig så stor; kontrollera originalet."
)

# Bounds on the work an anonymous upload may cause. pyHanko's validation time grows faster
# than linearly with incremental updates, so they are counted before anything is parsed;
# the service's own files have two or three revisions and a few thousand objects.
MAX_REVISIONS = 32
MAX_OBJECTS = 200_000
CHECK_SECONDS = 10
CHECK_MEMORY_BYTES = 768 * 1024**2
# "N G obj", by its last digit: a pattern that cannot backtrack (\d+\s+\d+ would, for
# minutes, on a file of digits), so counting stays linear in the upload
_OBJECT = re.compile(rb"\d\s+obj\b")
# A file ends where its last revision does: a startxref, its offset and %%EOF (and an end of line)
_LAST_REVISION_END = re.compile(rb"startxref\s+\d+\s*%%EOF(?:\r\n|\r|\n)?\Z")

_children = multiprocessing.get_context("forkserver")


@dataclass
class IssuedDocument:
    """What our records say about a file with these exact bytes."""

    what: str  # "Slutlig PDF nr 2" or "Låst version 1 av avtalstexten"
    agreement_id: int
    title: str
    registration_number: str
    version: int
    confirmations: list[dict]


@dataclass
class Verification:
    sha256: str
    readable: bool = True
    sealed: bool = False
    intact: bool = False
    covers_whole_file: bool = False
    ours: bool = False
    signer: str = ""
    sealed_at: datetime | None = None
    timestamped: bool = False
    self_signed: bool = False
    document: IssuedDocument | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.covers_whole_file and self.ours and self.document is not None

    def summary(self) -> str:
        """One line in Swedish: what the file is, or everything that is wrong with it."""
        d = self.document
        if not self.ok or d is None or self.sealed_at is None:
            return "Kan inte bekräftas: " + " ".join(self.problems)
        dnr = f", diarienummer {d.registration_number}" if d.registration_number else ""
        return (
            f"Äkta: {d.what} för avtal {d.agreement_id} ”{d.title}”{dnr}, oförändrad sedan tjänsten "
            f"förseglade den {local_minute(self.sealed_at)}."
        )

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "sha256": self.sha256,
            "sealed": self.sealed,
            "intact": self.intact,
            "covers_whole_file": self.covers_whole_file,
            "sealed_by_this_service": self.ours,
            "signer": self.signer,
            "sealed_at": self.sealed_at.isoformat() if self.sealed_at else None,
            "timestamped": self.timestamped,
            "self_signed": self.self_signed,
            "notice": SELF_SIGNED_NOTICE if self.self_signed else None,
            "problems": self.problems,
            "document": _document_json(self.document),
        }


def verify_pdf(session, sealer, data: bytes) -> Verification:
    """Check the seal of `data` and look its SHA-256 up in the records."""
    result = Verification(sha256=sha256_hex(data))
    if too_complex(data):
        result.readable = False
        result.problems.append(TOO_COMPLEX)
    else:
        result = _check_in_child(result, [c.dump() for c in _trust_roots(sealer)], data)
    result.document = issued_document(session, result.sha256)
    if result.document is None:
        result.problems.append(UNKNOWN)
    return result


def too_complex(data: bytes) -> bool:
    """More revisions or objects than any file of ours has, counted without parsing."""
    revisions = max(data.count(b"%%EOF"), data.count(b"startxref"))
    return revisions > MAX_REVISIONS or sum(1 for _ in _OBJECT.finditer(data)) > MAX_OBJECTS


def _check_in_child(result, roots: list[bytes], data: bytes) -> "Verification":
    """Check the seal in a child process with a time and memory budget; past either the
    file is too complex, and the worker has lost nothing but the wait."""
    receiver, sender = _children.Pipe(duplex=False)
    child = _children.Process(target=_check_child, args=(sender, result, roots, data), daemon=True)
    child.start()
    sender.close()
    try:
        if receiver.poll(CHECK_SECONDS):
            return receiver.recv()
    except EOFError:  # the child died, most likely at its memory limit
        pass
    finally:
        child.kill()
        child.join()
        receiver.close()
    log.info("verification stopped at its budget")
    result.readable = False
    result.problems.append(TOO_COMPLEX)
    return result


def _check_child(sender, result, roots, data) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHECK_MEMORY_BYTES, CHECK_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CHECK_SECONDS, CHECK_SECONDS + 1))
    _check_seal(result, [x509.Certificate.load(der) for der in roots], data)
    sender.send(result)


def _check_seal(result, roots, data):
    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    except Exception:  # anyone may upload anything: whatever pyHanko cannot parse is "unreadable"
        log.info("unreadable PDF uploaded for verification", exc_info=True)
        result.readable = False
        result.problems.append(UNREADABLE)
        return
    if not signatures:
        result.problems.append(NO_SEAL)
        return
    try:
        status = seal.outside_event_loop(
            lambda: validate_pdf_signature(signatures[0], signer_validation_context=_validation_context(roots))
        )
    except Exception:  # a damaged signature dictionary or CMS blob is a broken seal, not a crash
        log.info("seal could not be validated", exc_info=True)
        result.sealed = True
        result.problems.append(BROKEN)
        return
    result.sealed = True
    result.intact = status.intact and status.valid
    result.covers_whole_file = _ends_with_a_revision(data) and (
        status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        or (status.modification_level is not None and status.modification_level <= ModificationLevel.LTA_UPDATES)
    )
    result.ours = result.intact and status.trusted
    result.signer = _name(status.signing_cert.subject)
    result.self_signed = status.signing_cert.self_signed != "no"
    result.timestamped = status.timestamp_validity is not None
    moment = status.timestamp_validity.timestamp if result.timestamped else status.signer_reported_dt
    result.sealed_at = moment.astimezone(UTC).replace(tzinfo=None) if moment else None
    if not result.intact:
        result.problems.append(BROKEN)
    elif not result.covers_whole_file:
        result.problems.append(NOT_COVERED)
    if result.intact and not result.ours:
        result.problems.append(NOT_OURS)


def _name(subject) -> str:
    """Who a certificate names: its common name, else its organisation, else all of it."""
    fields = subject.native
    return fields.get("common_name") or fields.get("organization_name") or subject.human_friendly


def _ends_with_a_revision(data: bytes) -> bool:
    """No bytes follow the last revision: pyHanko judges revisions, and bytes appended
    after the last %%EOF belong to none, so it would call them covered."""
    return _LAST_REVISION_END.search(data[-1024:]) is not None


def _trust_roots(sealer) -> list:
    """Exactly the service's seal certificate (and the roots that came with it)."""
    return [sealer.certificate, *[c for c in sealer.signer.cert_registry if c.self_signed != "no"]]


def _trusting(sealer) -> ValidationContext:
    return _validation_context(_trust_roots(sealer))


def _validation_context(roots) -> ValidationContext:
    return ValidationContext(trust_roots=roots, allow_fetching=False)


def issued_document(session, sha256: str) -> IssuedDocument | None:
    """The final PDF or frozen version with exactly this SHA-256, if we issued one."""
    final = session.scalars(select(FinalDocument).where(FinalDocument.sha256 == sha256)).first()
    if final is not None:
        version = session.get(Version, final.version_id)
        return _described(session, f"Slutlig PDF nr {final.number}", version, until=final.created_at)
    version = session.scalars(select(Version).where(Version.pdf_sha256 == sha256)).first()
    if version is not None:
        return _described(session, f"Låst version {version.number} av avtalstexten", version, until=None)
    return None


def _described(session, what, version, until) -> IssuedDocument:
    query = select(Confirmation).where(Confirmation.version_id == version.id, Confirmation.decision == "confirmed")
    if until is not None:
        query = query.where(Confirmation.created_at <= until)
    agreement = version.agreement
    return IssuedDocument(
        what=what,
        agreement_id=agreement.id,
        title=agreement.title,
        registration_number=agreement.registration_number,
        version=version.number,
        confirmations=[
            {
                "party": c.party.name,
                "org_number": c.party.org_number,
                "name": c.signer_name,
                "title": c.signer_title,
                "place": c.place,
                "at": c.created_at,
            }
            for c in session.scalars(query.order_by(Confirmation.created_at, Confirmation.id))
        ],
    )


def _document_json(document):
    if document is None:
        return None
    return {
        "what": document.what,
        "agreement_id": document.agreement_id,
        "title": document.title,
        "registration_number": document.registration_number,
        "version": document.version,
        "confirmations": [dict(c, at=c["at"].replace(tzinfo=UTC).isoformat()) for c in document.confirmations],
    }
