"""The signing rules: one-time links, confirmation and decline.

A link token is an itsdangerous signature over (link id, random nonce, prefix of the
frozen PDF's SHA-256). The signature proves we issued it; the database row makes it
one-time, revocable and expiring. Only the nonce's SHA-256 is stored, so a copy of
the database does not yield working links. Opening a link (GET) changes nothing but
the audit trail: mail scanners open links before people do. Only a confirmation or a
decline consumes it, in one atomic update from unused to used.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import and_, func, select, update

from . import audit, status, text
from .errors import Conflict, LinkProblem
from .formatting import STOCKHOLM, join_sv, local_time
from .models import Agreement, AuditEvent, Confirmation, Party, SigningLink, Version, utcnow
from .roles import require_handler
from .schema import is_mailbox
from .status import Status, change

LINK_SALT = "avtal.signing-link.v1"


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _receipt_email_errors(values, receipt_email, errors):
    """Clean the optional receipt address into `values`; an error into `errors` if it is no address."""
    values["receipt_email"] = receipt_email.strip()
    if values["receipt_email"] and (
        len(receipt_email) > text.EMAIL_MAX or not _EMAIL.fullmatch(values["receipt_email"])
    ):
        errors["receipt_email"] = "Skriv en e-postadress som namn@exempel.se, eller lämna fältet tomt."


def check_answer(name, title, place, accepted, receipt_email="") -> tuple[dict[str, str], dict[str, str]]:
    """A confirmation form's fields, cleaned, and Swedish errors per field (empty if it may be stored)."""
    values, errors = text.field_errors(
        {
            "signer_name": ("Namn", name, text.NAME_MAX, True, True),
            "signer_title": ("Titel", title, text.NAME_MAX, False, True),
            "place": ("Ort", place, text.PLACE_MAX, True, True),
        }
    )
    _receipt_email_errors(values, receipt_email, errors)
    if not accepted:
        errors["accept"] = "Kryssa i att du har läst avtalet och har rätt att bekräfta det för organisationen."
    return values, errors


def check_decline(name, title, reason, receipt_email="") -> tuple[dict[str, str], dict[str, str]]:
    """A decline form's fields, cleaned, and Swedish errors per field: who declines (name and
    title, both required, as the answer binds the organisation), an optional reason, an optional
    receipt address. The keys are the decline form's own, so they never clash with the confirmation's."""
    values, errors = text.field_errors(
        {
            "decline_name": ("Namn", name, text.NAME_MAX, True, True),
            "decline_title": ("Titel", title, text.NAME_MAX, True, True),
            "reason": ("Motiveringen", reason, text.REASON_MAX, False, False),
        }
    )
    values.setdefault("reason", "")
    _receipt_email_errors(values, receipt_email, errors)
    if "receipt_email" in errors:
        errors["decline_receipt_email"] = errors.pop("receipt_email")
    return values, errors


def link_serializer(secret_key) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=LINK_SALT)


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def current_version_id(agreement_id):
    """The rule for which version counts: the agreement's latest, the one with the highest number.
    In SQL, as a scalar subquery; pass `Agreement.id` to correlate it with a query over agreements."""
    latest = select(Version.id).where(Version.agreement_id == agreement_id)
    return latest.order_by(Version.number.desc()).limit(1).scalar_subquery()


def latest_version(session, agreement_id):
    """The current version of the agreement, or None before it is first sent."""
    return session.scalar(select(Version).where(Version.id == current_version_id(agreement_id)))


@dataclass
class IssuedLink:
    """A link as issued: the token exists only here and in what is sent to the party."""

    party: Party
    token: str
    expires_at: datetime
    link_id: int
    version_number: int = 1
    earlier_answer: str | None = None  # the party's answer to the version before, void now
    answer_by: date | None = None  # the version's last day to answer, if the official set one
    message: str = ""  # the official's personal message with the version
    to: str = ""  # where the link is mailed: the party's contact address, or whom it was passed on to
    recipient_name: str = ""  # the person it was passed on to


def link_is_open(now):
    """The rule for a link that can still be answered, in SQL: neither used, revoked nor expired.
    Issuing (revoking the earlier ones), consuming, reminders and their claims all use it."""
    return and_(SigningLink.used_at.is_(None), SigningLink.revoked_at.is_(None), SigningLink.expires_at > now)


def is_open(link: SigningLink, now) -> bool:
    """`link_is_open` for a loaded row (tests/test_signing.py holds the two to each other)."""
    return link.used_at is None and link.revoked_at is None and link.expires_at > now


def end_of_day(day: date) -> datetime:
    """The last moment of a Swedish calendar day, as stored (naive UTC)."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=STOCKHOLM)
    return midnight.astimezone(UTC).replace(tzinfo=None)


def link_expiry(version: Version, now: datetime, max_age_days: int) -> datetime:
    """A link lasts `max_age_days`, or to the end of the version's last day to answer when that
    comes first; a link issued after the last day has passed gets the full time again."""
    expires = now + timedelta(days=max_age_days)
    if version.answer_by is not None and now < end_of_day(version.answer_by) < expires:
        return end_of_day(version.answer_by)
    return expires


def reminder_due(link_created, expires_at, reminded_at, every_days, days_before, now) -> bool:
    """The rule for reminding an open, unanswered link: once when its last day is `days_before`
    days away (unless it was issued after that: its invitation is reminder enough), and every
    `every_days` days since it was issued or last reminded, when the official chose a cadence."""
    before_deadline = expires_at - timedelta(days=days_before)
    last = reminded_at or link_created
    if now >= before_deadline and last < before_deadline:
        return True
    return every_days is not None and now >= (reminded_at or link_created) + timedelta(days=every_days)


# In what order a version's parties get their links: the official's choice when sending.
TOGETHER = "together"
SIGNING_ORDERS = {
    TOGETHER: "Alla samtidigt",
    "region_last": "Regionen bekräftar sist",
    "in_order": "I den ordning parterna står i avtalet",
}
UNKNOWN_ORDER = (
    "Välj en ordning för länkarna: Alla samtidigt (together), Regionen bekräftar sist (region_last) "
    "eller I den ordning parterna står i avtalet (in_order)."
)


def _step(order, kind, position) -> int:
    """A party's step in the order: every step's parties get their links when all before have confirmed."""
    if order == "in_order":
        return position
    return 1 if order == "region_last" and kind == "offentlig" else 0


def _named_in(version: Version, parties: list[Party]) -> list[Party]:
    """The parties named in the version's text: the only ones a signing order concerns."""
    return [party for party in parties if party.position < len(version.data["parties"])]


def waiting_now(session, agreement, version: Version | None) -> dict[int, list[Party]]:
    """`waiting_for` with the agreement's parties and confirmations as they stand."""
    if version is None or version.signing_order == TOGETHER:
        return {}
    return waiting_for(version, active_parties(session, agreement), set(confirmations_by_party(session, agreement)))


def waiting_for(version: Version, parties: list[Party], confirmed: set[int]) -> dict[int, list[Party]]:
    """The rule of the signing order: which parties are not due a link yet. For each party of
    `version` that must wait (by party id), the parties of the nearest step before it that have
    not confirmed (`confirmed`: party ids); the steps before those come first anyway. Every other
    party is due its link now. Parties who joined later, outside the version's text, are never
    part of an order; a decline holds up everyone after it, as it holds up completion."""
    if version.signing_order == TOGETHER:
        return {}
    named = version.data["parties"]
    steps: dict[int, list[Party]] = {}
    for party in _named_in(version, parties):
        step = _step(version.signing_order, named[party.position]["kind"], party.position)
        steps.setdefault(step, []).append(party)
    waiting: dict[int, list[Party]] = {}
    holding: list[Party] = []
    for step in sorted(steps):
        waiting.update({party.id: holding for party in steps[step] if holding})
        holding = [party for party in steps[step] if party.id not in confirmed] or holding
    return waiting


def issue_link(
    session, serializer, party: Party, version: Version, max_age_days: int, actor, to=None, name=""
) -> IssuedLink:
    """Create a new link for `party` to sign `version`; revokes the party's earlier open links.
    `to` and `name`: the person the party passed the link on to (else its contact address)."""
    now = utcnow()
    for old in session.scalars(select(SigningLink).where(SigningLink.party_id == party.id, link_is_open(now))):
        old.revoked_at = now
        audit.record(session, "revoked", actor, party.agreement_id, link_id=old.id, party=party.name)
    nonce = secrets.token_urlsafe(24)
    link = SigningLink(
        party_id=party.id,
        version_id=version.id,
        nonce_sha256=_nonce_hash(nonce),
        created_at=now,
        expires_at=link_expiry(version, now, max_age_days),
        sent_to=to,
        recipient_name=name,
        issued_by=actor.name[:320],
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        "link_issued",
        actor,
        party.agreement_id,
        link_id=link.id,
        party=party.name,
        version=version.number,
        expires_at=link.expires_at.isoformat(),
    )
    token = serializer.dumps({"l": link.id, "n": nonce, "h": version.pdf_sha256[:16]})
    return IssuedLink(
        party,
        token,
        link.expires_at,
        link.id,
        version.number,
        answer_by=version.answer_by,
        message=version.message,
        to=to or party.contact_email,
        recipient_name=name,
    )


def reissue_link(session, serializer, party: Party, max_age_days: int, user, actor) -> IssuedLink:
    """A new link for a party of a sent or declined agreement, or for an organisation that joined
    a completed one and has not confirmed yet; its earlier open links are revoked. A party the
    signing order still holds back gets none (Conflict)."""
    agreement = session.get(Agreement, party.agreement_id)
    require_handler(session, user, agreement)
    version = latest_version(session, agreement.id)
    if party.acceded and status.is_completed(agreement):
        if party_answer(session, party, version) is not None:
            raise Conflict("Organisationen har redan svarat på avtalet, så det finns ingen länk att förnya.")
    elif version is None or not status.is_out_for_signature(agreement):
        raise Conflict("Avtalet är inte skickat för signering, så det finns ingen länk att förnya.")
    if before := waiting_now(session, agreement, version).get(party.id):
        raise Conflict(
            f"{party.name} får sin länk när {join_sv(p.name for p in before)} har bekräftat, "
            "i den ordning avtalet skickades. Ingen länk skickades."
        )
    return issue_link(session, serializer, party, version, max_age_days, actor)


def party_answer(session, party: Party, version: Version) -> Confirmation | None:
    """The party's current answer to `version` (`current_answer_ids`), read by its own index."""
    return session.scalar(select(Confirmation).where(Confirmation.id.in_(current_answer_ids(version.id, [party.id]))))


def issue_due_links(session, serializer, agreement, version: Version, max_age_days: int) -> list[IssuedLink]:
    """The links the signing order lets go now: one for each party of the version's text that is
    due and has never had a link to it (the order held it back). Issued by the service; the
    caller emails them after the commit, as the links of a sending."""
    if version.signing_order == TOGETHER:
        return []
    parties = active_parties(session, agreement)
    waiting = waiting_for(version, parties, set(confirmations_by_party(session, agreement)))
    linked = set(session.scalars(select(SigningLink.party_id).where(SigningLink.version_id == version.id)))
    earlier = _answers_to_version_before(session, version)
    issued = []
    for party in _named_in(version, parties):
        if party.id not in waiting and party.id not in linked:
            link = issue_link(session, serializer, party, version, max_age_days, audit.SYSTEM)
            link.earlier_answer = earlier.get(party.id)
            issued.append(link)
    return issued


def _answers_to_version_before(session, version: Version) -> dict[int, str]:
    """Each party's current answer to the version before `version` (void now), by party id."""
    same_agreement = Version.agreement_id == version.agreement_id
    before = select(Version.id).where(same_agreement, Version.number == version.number - 1).scalar_subquery()
    answers = current_answer_ids(before)
    rows = session.scalars(select(Confirmation).where(Confirmation.id.in_(answers)))
    return {row.party_id: row.decision for row in rows}


def read_token(serializer, token) -> tuple[int, str, str]:
    """(link id, nonce, the frozen PDF's SHA-256 prefix) from a token that is ours and
    untampered, without asking the database; else LinkProblem('invalid')."""
    try:
        payload = serializer.loads(token)
        link_id, nonce, hash_prefix = payload["l"], payload["n"], payload["h"]
    except (BadData, TypeError, KeyError):
        raise LinkProblem("invalid") from None
    if (
        type(link_id) is not int
        or not 0 < link_id < 2**63
        or not isinstance(nonce, str)
        or not isinstance(hash_prefix, str)
    ):
        raise LinkProblem("invalid")
    return link_id, nonce, hash_prefix


def _load(session, serializer, token) -> SigningLink:
    """The link a token names, if the token is ours and untampered; else LinkProblem('invalid')."""
    link_id, nonce, hash_prefix = read_token(serializer, token)
    link = session.get(SigningLink, link_id)
    if (
        link is None
        or not hmac.compare_digest(link.nonce_sha256, _nonce_hash(nonce))
        or link.version.pdf_sha256[:16] != hash_prefix
    ):
        raise LinkProblem("invalid")
    return link


def answer_for(session, link) -> Confirmation | None:
    return session.scalars(select(Confirmation).where(Confirmation.link_id == link.id)).first()


def answerable_link(party: Party, version: Version) -> SigningLink | None:
    """The party's newest link to `version` that is neither used, revoked nor expired."""
    now = utcnow()
    for link in reversed(party.links):
        if link.version_id == version.id and is_open(link, now):
            return link
    return None


def check_link(session, serializer, token) -> SigningLink:
    """The link, if it can still be answered; otherwise LinkProblem saying why. A link to a text
    that has changed since is 'outdated' whatever was done with it: an answer to an earlier
    version no longer counts, and the page must not say it does."""
    link = _load(session, serializer, token)
    agreement = session.get(Agreement, link.party.agreement_id)
    current = latest_version(session, agreement.id)
    if status.is_draft(agreement) or current is None or current.id != link.version_id:
        raise LinkProblem("outdated", link, answer_for(session, link))
    if link.used_at is not None:
        raise LinkProblem("used", link, answer_for(session, link))
    if link.revoked_at is not None:
        raise LinkProblem("revoked", link)
    if link.expires_at <= utcnow():
        raise LinkProblem("expired", link)
    return link


def given_answer(session, serializer, token) -> Confirmation:
    """The answer given through a used link (for its receipt); LinkProblem('invalid') if none."""
    link = _load(session, serializer, token)
    answer = answer_for(session, link) if link.used_at is not None else None
    if answer is None:
        raise LinkProblem("invalid")
    return answer


def _party_actor(link, client) -> audit.Actor:
    """The party as the audit trail names it, with the client's address and browser."""
    return audit.Actor(f"party:{link.party_id} {link.party.name}", client.ip, client.user_agent)


def open_link(session, serializer, token, client) -> SigningLink:
    """What a GET of the party's page does: check, and note that the link was opened.

    Every open is counted on the link; the audit trail (and so the final PDF's appendix)
    notes only the first open of each day, so reloading a page cannot grow either.
    """
    link = check_link(session, serializer, token)
    now = utcnow()
    first_today = link.last_opened_at is None or local_time(link.last_opened_at).date() != local_time(now).date()
    session.execute(
        update(SigningLink)
        .where(SigningLink.id == link.id)
        .values(
            open_count=SigningLink.open_count + 1,
            last_opened_at=now,
            first_opened_at=func.coalesce(SigningLink.first_opened_at, now),
        )
    )
    if first_today:
        actor = _party_actor(link, client)
        audit.record(session, "link_opened", actor, link.party.agreement_id, link_id=link.id, party=link.party.name)
    return link


def note_download(session, link, client) -> None:
    """The party downloaded the frozen PDF through its link: noted in the audit trail,
    once per link and day like opens, so repeated downloads cannot grow the trail."""
    since = utcnow() - timedelta(days=1)
    earlier = session.scalars(
        select(AuditEvent).where(
            AuditEvent.agreement_id == link.party.agreement_id,
            AuditEvent.event == "downloaded",
            AuditEvent.created_at > since,
        )
    )
    if any(e.details.get("link_id") == link.id for e in earlier):
        return
    audit.record(
        session,
        "downloaded",
        _party_actor(link, client),
        link.party.agreement_id,
        link_id=link.id,
        party=link.party.name,
        sha256=link.version.pdf_sha256,
    )


def _consume(session, serializer, token) -> SigningLink:
    """Mark the link used, atomically: of two simultaneous answers exactly one gets here."""
    link = check_link(session, serializer, token)
    result = session.execute(
        update(SigningLink).where(SigningLink.id == link.id, link_is_open(utcnow())).values(used_at=utcnow())
    )
    if result.rowcount != 1:
        session.rollback()
        session.expire_all()
        check_link(session, serializer, token)  # raises 'used' or 'revoked' now
        raise LinkProblem("used", link)
    return link


def _store_answer(session, link, actor, **answer) -> Confirmation:
    """The party's answer through `link`, with when, from where and with what browser."""
    row = Confirmation(
        link_id=link.id,
        party_id=link.party_id,
        version_id=link.version_id,
        created_at=utcnow(),
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:500],
        **answer,
    )
    session.add(row)
    session.flush()
    return row


def _answer(session, serializer, token, client, decision, **answer) -> tuple[Confirmation, Agreement]:
    """Consume the link and store the party's answer (`decision`, with `answer`'s fields), noted in
    the audit trail with the text it concerned and the place or reason given; the status follows
    the answers of the parties in the text. An organisation that joined later answers for itself
    alone: its answer leaves the agreement as it is, and costs the same at 30 000 parties as at 10.
    The one way both answers go."""
    link = _consume(session, serializer, token)
    actor = _party_actor(link, client)
    row = _store_answer(session, link, actor, decision=decision, **answer)
    agreement = session.get(Agreement, link.party.agreement_id)
    agreement.updated_at = utcnow()  # lists and the API's updated_since see every answer
    audit.record(
        session,
        decision,
        actor,
        agreement.id,
        link_id=link.id,
        party=link.party.name,
        name=answer["signer_name"],
        title=answer["signer_title"],
        version=link.version.number,
        pdf_sha256=link.version.pdf_sha256,
        **{key: value for key, value in answer.items() if key in ("place", "reason")},
    )
    if not link.party.acceded:
        _follow_answers(session, agreement, link.version)
    return row, agreement


def _follow_answers(session, agreement, version) -> None:
    """Set the status the answers of the parties in the text give; note when that completes it."""
    after = status_after_answer(session, agreement)
    if after == Status.COMPLETED and not status.is_completed(agreement):
        parties = len(agreement.data["parties"])
        audit.record(session, "completed", audit.SYSTEM, agreement.id, version=version.number, parties=parties)
    change(agreement, after)


def confirm(
    session, serializer, token, signer_name, signer_title, place, client, receipt_email="", *, max_age_days
) -> tuple[Confirmation, list[IssuedLink]]:
    """Record a confirmation. Returns it, and the links the signing order lets go now (to be
    emailed after the commit); the agreement is marked completed when it was the last."""
    answer, agreement = _answer(
        session,
        serializer,
        token,
        client,
        "confirmed",
        signer_name=signer_name,
        signer_title=signer_title,
        place=place,
        receipt_email=receipt_email,
    )
    if answer.party.acceded:  # an organisation that joined later is in no order
        return answer, []
    return answer, issue_due_links(session, serializer, agreement, answer.version, max_age_days)


def decline(session, serializer, token, signer_name, signer_title, reason, client, receipt_email="") -> Confirmation:
    """Record a decline with the person who declined, as carefully as a confirmation."""
    answer, _ = _answer(
        session,
        serializer,
        token,
        client,
        "declined",
        signer_name=signer_name,
        signer_title=signer_title,
        reason=reason,
        receipt_email=receipt_email,
    )
    return answer


def _named(agreement, party) -> dict:
    if party.acceded:
        return {"name": party.representative_name, "title": party.representative_title}
    parties = agreement.data.get("parties") or []
    return (parties[party.position].get("representative") or {}) if party.position < len(parties) else {}


def named_representative(agreement, party) -> str:
    """The representative the official named for the party ("Name, title"), or ""."""
    named = _named(agreement, party)
    return ", ".join(x for x in (named.get("name", ""), named.get("title", "")) if x)


def confirmed_by_other(agreement, party, answer) -> str:
    """'' when the named representative confirmed (or none was named); else the flag the agreement
    page and the final appendix show: "Bekräftat av X; angiven företrädare Y"."""
    named = _named(agreement, party).get("name", "")
    if answer is None or answer.decision != "confirmed" or not named:
        return ""
    if " ".join(answer.signer_name.split()).casefold() == " ".join(named.split()).casefold():
        return ""
    return f"Bekräftat av {answer.signer_name}; angiven företrädare {named_representative(agreement, party)}"


def link_address(link: SigningLink) -> str:
    """Where the link went: the person it was passed on to, or the party's contact address."""
    return link.sent_to or link.party.contact_email


def forwarded_to(session, link: SigningLink) -> SigningLink | None:
    """The link the party passed this one on to, if that is why it was revoked."""
    if link.revoked_at is None:
        return None
    return session.scalar(
        select(SigningLink).where(
            SigningLink.party_id == link.party_id,
            SigningLink.created_at == link.revoked_at,
            SigningLink.sent_to.is_not(None),
        )
    )


def check_forward(name, email, link: SigningLink) -> tuple[dict[str, str], dict[str, str]]:
    """The "Skicka vidare" form, cleaned, and Swedish errors: a name, and exactly one address
    that is not the one the link already went to."""
    values, errors = text.field_errors({"forward_name": ("Namn", name, text.NAME_MAX, True, True)})
    email = email.strip()
    values["forward_email"] = email
    if len(email) > text.EMAIL_MAX or not is_mailbox(email):
        errors["forward_email"] = "Skriv en enda e-postadress som namn@exempel.se."
    elif email.lower() == link_address(link).lower():
        errors["forward_email"] = (
            "Länken har redan skickats till den adressen. Skriv adressen till den som får skriva under."
        )
    return values, errors


def forward(session, serializer, token, name, email, client, max_age_days) -> tuple[SigningLink, IssuedLink]:
    """The party passes its link on to the person who may sign: a new link to `email` for the
    same version, the first revoked, who forwarded to whom recorded. LinkProblem if the link is
    used, revoked, expired or outdated; nothing changes then."""
    link = check_link(session, serializer, token)
    actor = _party_actor(link, client)
    issued = issue_link(session, serializer, link.party, link.version, max_age_days, actor, to=email, name=name)
    audit.record(
        session,
        "forwarded",
        actor,
        link.party.agreement_id,
        link_id=issued.link_id,
        from_link_id=link.id,
        party=link.party.name,
        from_email=link_address(link),
        email=email,
        name=name,
    )
    return link, issued


def record_delivery(session, deliveries: dict[int, str]):
    """Note per link id whether its email went out ('emailed') or not ('failed')."""
    for link_id, delivery in deliveries.items():
        session.execute(update(SigningLink).where(SigningLink.id == link_id).values(delivery=delivery))


def revoke(session, party: Party, user, actor) -> None:
    """A handläggare revokes the party's links that are neither used nor revoked yet."""
    require_handler(session, user, session.get(Agreement, party.agreement_id))
    for link in party.links:
        if link.used_at is None and link.revoked_at is None:
            link.revoked_at = utcnow()
            audit.record(session, "revoked", actor, party.agreement_id, link_id=link.id, party=party.name)


def current_answer_ids(version_id, party_ids=None):
    """The rule for a party's current answer: its latest answer (confirmed or declined) to the
    version, whatever it answered before through an earlier link. A subquery of Confirmation ids;
    `version_id` may be a value or a column to correlate with; `party_ids` (ids or a subquery of
    them) keeps it to those parties, read by their index."""
    latest = select(func.max(Confirmation.id)).where(Confirmation.version_id == version_id)
    if party_ids is not None:
        latest = latest.where(Confirmation.party_id.in_(party_ids))
    return latest.group_by(Confirmation.party_id).correlate_except(Confirmation)


def answers_by_party(session, agreement) -> dict[int, Confirmation]:
    """Each party in the text's current answer to the current version, by party id (the
    organisations that joined later are read a page at a time: accession_records.joined_page)."""
    version = latest_version(session, agreement.id)
    if version is None:
        return {}
    rows = session.scalars(
        select(Confirmation)
        .join(Party, Confirmation.party_id == Party.id)
        .where(Confirmation.id.in_(current_answer_ids(version.id)), _in_text(agreement))
    )
    return {c.party_id: c for c in rows}


def _in_text(agreement):
    """SQL: a party named in the agreement's data (rows past its list are stale or joined later)."""
    return and_(Party.agreement_id == agreement.id, Party.position < len(agreement.data["parties"]))


def confirmations_by_party(session, agreement) -> dict[int, Confirmation]:
    """Each party whose current answer to the current version is a confirmation, by party id."""
    return {pid: c for pid, c in answers_by_party(session, agreement).items() if c.decision == "confirmed"}


def current_answer_count(agreement_id, version_id, party_count, decision="confirmed"):
    """SQL: how many of an agreement's parties (positions below `party_count`) currently answer
    `decision` to the version. Arguments may be values or columns to correlate with; counted in
    SQL, since this runs on every answer and for every row of the lists."""
    return (
        select(func.count(Confirmation.id))
        .join(Party, Confirmation.party_id == Party.id)
        .where(
            Confirmation.id.in_(current_answer_ids(version_id)),
            Confirmation.decision == decision,
            Party.agreement_id == agreement_id,
            Party.position < party_count,
        )
    )


def _count_current_answers(session, agreement, version, decision) -> int:
    count = len(agreement.data["parties"])
    return session.scalar(current_answer_count(agreement.id, version.id, count, decision))


def all_confirmed(session, agreement) -> bool:
    """What complete means: every party's current answer to the current version is a confirmation."""
    version = latest_version(session, agreement.id)
    count = len(agreement.data["parties"])
    return (
        count > 0 and version is not None and _count_current_answers(session, agreement, version, "confirmed") == count
    )


def status_after_answer(session, agreement) -> Status:
    """Completed when every party's current answer confirms, declined while any declines, else sent."""
    if all_confirmed(session, agreement):
        return Status.COMPLETED
    version = latest_version(session, agreement.id)
    return Status.DECLINED if _count_current_answers(session, agreement, version, "declined") else Status.SENT


@dataclass
class PartyStatus:
    """Where one party stands on the current version: `status` is pending, confirmed or declined."""

    party: Party
    answer: Confirmation | None

    @property
    def status(self) -> str:
        return self.answer.decision if self.answer is not None else "pending"


def answers_a_new_text_voids(session, agreement) -> list[Confirmation]:
    """The answers that stop counting if the agreement's text is changed now: every current answer
    to the version out for signature (none while it is a draft, whose answers are void already)."""
    if not status.is_out_for_signature(agreement):
        return []
    return [s.answer for s in party_statuses(session, agreement) if s.answer is not None]


def void_answers(session, agreement, actor) -> list[Confirmation]:
    """Record in the audit trail, one event each, the answers a new text voids."""
    voided = answers_a_new_text_voids(session, agreement)
    for answer in voided:
        audit.record(
            session,
            "answer_voided",
            actor,
            agreement.id,
            party=answer.party.name,
            decision=answer.decision,
            version=answer.version.number,
            link_id=answer.link_id,
        )
    return voided


def party_statuses(session, agreement) -> list[PartyStatus]:
    """Each party named in the agreement, in order, with its current answer to the current version."""
    answers = answers_by_party(session, agreement)
    return [PartyStatus(party, answers.get(party.id)) for party in active_parties(session, agreement)]


def active_parties(session, agreement) -> list[Party]:
    """The parties named in the agreement's data, in order (rows past its list are stale)."""
    return list(session.scalars(select(Party).where(_in_text(agreement)).order_by(Party.position)))
