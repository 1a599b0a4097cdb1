"""What a party keeps after confirming: the receipt, and a download link for the final PDF.

The final PDF's link is an itsdangerous signature, with a salt of its own, over one
confirmation and one final document: it downloads that document and nothing else,
expires, and every use is recorded in the audit trail.
"""

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from . import audit
from .errors import DownloadProblem
from .models import Confirmation, FinalDocument, Party

FINAL_SALT = "avtal.final-download.v1"


def final_serializer(secret_key) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=FINAL_SALT)


def receipt_address(confirmation: Confirmation, party: Party) -> str:
    """Where a party's receipts go: the address given when confirming, else the one the link went to."""
    return confirmation.receipt_email or party.contact_email


def final_recipients(session, document: FinalDocument) -> list[tuple[Confirmation, Party, str]]:
    """Every party that confirmed the document's version, with an address to write to."""
    rows = session.execute(
        select(Confirmation, Party)
        .join(Party, Confirmation.party_id == Party.id)
        .where(
            Confirmation.version_id == document.version_id,
            Confirmation.decision == "confirmed",
            Party.acceded.is_(False),  # organisations that joined later get their accession record
        )
        .order_by(Party.position)
    ).all()
    return [(c, p, address) for c, p in rows if (address := receipt_address(c, p))]


def final_token(serializer, confirmation_id: int, document_id: int) -> str:
    return serializer.dumps({"c": confirmation_id, "f": document_id})


def open_final(session, serializer, token, max_age_days, client) -> tuple[FinalDocument, Party]:
    """The final document a link is for, recorded as downloaded by the party; DownloadProblem if not usable."""
    try:
        payload = serializer.loads(token, max_age=max_age_days * 86400)
        confirmation_id, document_id = payload["c"], payload["f"]
    except SignatureExpired:
        raise DownloadProblem("expired") from None
    except (BadData, TypeError, KeyError):
        raise DownloadProblem("invalid") from None
    if not all(type(v) is int and 0 < v < 2**63 for v in (confirmation_id, document_id)):
        raise DownloadProblem("invalid")
    confirmation = session.get(Confirmation, confirmation_id)
    document = session.get(FinalDocument, document_id)
    if confirmation is None or document is None or confirmation.version_id != document.version_id:
        raise DownloadProblem("invalid")
    party = confirmation.party
    actor = audit.Actor(f"party:{party.id} {party.name}", client.ip, client.user_agent)
    audit.record(
        session,
        "final_downloaded",
        actor,
        document.agreement_id,
        party=party.name,
        number=document.number,
        sha256=document.sha256,
    )
    return document, party
