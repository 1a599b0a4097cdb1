"""Drafting, freezing a version for signature, and accession: the domain rules.

A draft holds validated form data. Sending freezes it: the agreement PDF is rendered
and stored, its SHA-256 recorded in a new Version, and each party gets a link bound
to that version. Editing after sending puts the agreement back to draft, so the old
links stop working (they are for an outdated version); sending again freezes the
next version. Accession adds a party to a completed överenskommelse without
changing its text: the new party confirms the same frozen version.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from . import audit, custom_templates, final, listing, renditions, roles, signing, status, text
from .documents import render_agreement, wording
from .documents.fill import TemplateFillError, builtin_template
from .errors import Conflict, InvalidInput, NotAllowed, NotFound, Unavailable
from .models import Agreement, AgreementHandler, FinalDocument, Party, User, Version, utcnow
from .roles import handler_row, is_handler, require_handler
from .schema import (
    MAX_ACCEDED_PARTIES,
    SchemaError,
    is_mailbox,
    org_number_or_blank,
    validate_agreement,
    validate_draft,
    validate_party,
)
from .status import LABELS, Status, change

FINAL_RETRY_AFTER = 2  # seconds: assembling a final PDF takes about one
STATUS_LABELS = {value.value: label for value, label in LABELS.items()}


def _keep_data(files, data) -> str:
    """Every saved draft is kept in the file store, so no edit loses what was there."""
    return files.put(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _store_data(files, agreement, data):
    """Set the agreement's data and everything derived from it (list columns, party rows)."""
    agreement.data = data
    agreement.title = str(data.get("title") or "")
    agreement.registration_number = str(data.get("registration_number") or "")
    agreement.data_sha256 = _keep_data(files, data)
    for column, value in listing.index_columns(data).items():
        setattr(agreement, column, value)


def create_draft(session, files, data, user, actor, template=None) -> Agreement:
    """Store a new draft with whatever is filled in (SchemaError only for what can never be
    stored). `template` is an uploaded CustomTemplate; by default the kind's active version."""
    draft, _ = validate_draft(data)
    if template is None:
        template = custom_templates.active_template(session, draft["kind"])
    if template is not None and template.kind != draft["kind"]:
        raise InvalidInput("Mallen är gjord för en annan avtalstyp.")
    agreement = Agreement(
        kind=draft["kind"],
        status=Status.DRAFT.value,
        created_by_id=user.id if user else None,
        template_id=template.id if template else None,
    )
    _store_data(files, agreement, draft)
    session.add(agreement)
    session.flush()
    if user is not None:
        session.add(AgreementHandler(agreement_id=agreement.id, user_id=user.id, added_by_id=user.id))
    _sync_parties(session, agreement)
    audit.record(session, "created", actor, agreement.id, data_sha256=agreement.data_sha256)
    return agreement


def copy_agreement(session, files, agreement, user, actor) -> Agreement:
    """A new draft with the agreement's text and template, "Kopia av" its title, and no
    diarienummer (a new case gets its own): none of its versions, links or answers come along."""
    data = json.loads(json.dumps(agreement.data))
    data["title"] = f"Kopia av {agreement.title}"[: text.NAME_MAX]
    data["registration_number"] = ""
    copy = create_draft(session, files, data, user, actor, template=agreement.template)
    audit.record(session, "copied", actor, copy.id, from_agreement=agreement.id)
    return copy


def update_draft(session, files, agreement, data, user, actor) -> Agreement:
    """Save new form data, finished or not. A sent agreement goes back to draft and its links stop working."""
    require_handler(session, user, agreement)
    if not status.may_edit(agreement):
        raise Conflict("Avtalet är klart och kan inte ändras. Nya parter kan anslutas.")
    draft, _ = validate_draft(data)
    if draft["kind"] != agreement.kind:
        raise SchemaError({"kind": "Avtalstyp kan inte ändras för ett befintligt avtal"})
    _store_data(files, agreement, draft)
    signing.void_answers(session, agreement, actor)
    change(agreement, Status.DRAFT)
    agreement.updated_at = utcnow()
    _sync_parties(session, agreement)
    audit.record(session, "draft_saved", actor, agreement.id, data_sha256=agreement.data_sha256)
    return agreement


def _sync_parties(session, agreement) -> list[Party]:
    """Party rows for each party in the data, matched by position (a draft's may be unfinished)."""
    existing = {p.position: p for p in session.scalars(select(Party).where(Party.agreement_id == agreement.id))}
    rows = []
    for position, data in enumerate(agreement.data["parties"]):
        party = existing.get(position) or Party(agreement_id=agreement.id, position=position)
        party.name = str(data.get("name") or "")[:300]
        party.org_number = org_number_or_blank(data.get("org_number"))
        party.contact_email = str(data.get("contact_email") or "")[:254]
        session.add(party)
        rows.append(party)
    session.flush()
    return rows


MESSAGE_MAX = 2_000  # the official's personal message to the parties
REMIND_EVERY_MAX = 60  # days between reminders, at most


@dataclass(frozen=True)
class SendingTerms:
    """What the official adds when sending: a personal message to the parties, a last day to
    answer, how many days apart the parties are reminded (None: only before the last day) and
    in what order they get their links (signing.SIGNING_ORDERS)."""

    message: str = ""
    answer_by: date | None = None
    remind_every_days: int | None = None
    signing_order: str = signing.TOGETHER


def send_for_signature(
    db,
    files,
    office,
    sealer,
    serializer,
    agreement_id,
    max_age_days,
    user,
    actor,
    change_note="",
    terms=SendingTerms(),
):
    """Freeze the current text as a new version and issue one link per party; `user` must be a
    handläggare of the agreement (NotAllowed otherwise, before anything is rendered).

    Returns (agreement, [signing.IssuedLink]); each link says what its party answered to the
    version before, which no longer counts. `change_note` is the official's sentence on what
    changed (text.check'ed by the caller); `terms` what else the official set (check_sending_terms).
    LibreOffice renders the PDF between two short
    transactions, so the database is never locked while it works; a draft that was saved in
    the meantime is not sent, and the official is asked to try again. A text whose party page
    would read otherwise than its PDF is not sent: the refusal is in the audit trail.
    """
    with db.session() as session:
        agreement = handled_agreement(session, agreement_id, user)
        if not status.may_send(agreement):
            raise Conflict(
                "Avtalet är redan klart."
                if status.is_completed(agreement)
                else "Avtalet är redan skickat för signering. Ändra texten om en ny version ska skickas."
            )
        data, data_sha256 = agreement.data, agreement.data_sha256
        custom_sha256 = agreement.template.sha256 if agreement.template else None
    checked = validate_agreement(data)  # SchemaError lists what is missing
    # The version keeps the template it was filled from, a built-in one too.
    template = files.get(custom_sha256) if custom_sha256 else builtin_template(checked.kind)
    template_sha256 = files.put(template)
    try:
        # an uploaded template is filled in a limited child process; our own built-in one is trusted
        uploaded = template if custom_sha256 else None
        docx, pdf = render_agreement(checked, office, files, pdfa=True, template=uploaded)
        sealed = sealer.seal(pdf)
        rendition = renditions.make(files, docx, sealed)  # what the parties read, made once from the same fill
        _check_page_reads_as_pdf(files, rendition, sealed, docx)
    except (TemplateFillError, InvalidInput) as refused:
        with db.session() as session:
            audit.record(session, "send_refused", actor, agreement_id, reason=refused.message)
        raise
    pdf_sha256 = files.put(sealed)  # the parties confirm exactly these sealed bytes

    with db.session() as session:
        agreement = get_agreement(session, agreement_id)
        if agreement.data_sha256 != data_sha256 or not status.may_send(agreement):
            raise Conflict("Avtalet ändrades medan det skickades. Kontrollera texten och skicka igen.")
        previous = signing.latest_version(session, agreement.id)
        earlier_answers = signing.answers_by_party(session, agreement)
        signing.void_answers(session, agreement, actor)  # sent again unchanged after a decline
        version = Version(
            agreement_id=agreement.id,
            number=(previous.number + 1) if previous else 1,
            data=agreement.data,
            template_sha256=template_sha256,
            pdf_sha256=pdf_sha256,
            change_note=change_note,
            message=terms.message,
            answer_by=terms.answer_by,
            remind_every_days=terms.remind_every_days,
            signing_order=terms.signing_order,
        )
        session.add(version)
        session.flush()
        renditions.store(session, pdf_sha256, rendition)
        audit.record(
            session,
            "version_frozen",
            actor,
            agreement.id,
            version=version.number,
            pdf_sha256=pdf_sha256,
            **_terms_details(terms),
        )
        change(agreement, Status.SENT)
        agreement.updated_at = utcnow()
        issued = []
        parties = _sync_parties(session, agreement)
        held_back = signing.waiting_for(version, parties, confirmed=set())  # by the signing order
        for party in (party for party in parties if party.id not in held_back):
            link = signing.issue_link(session, serializer, party, version, max_age_days, actor)
            earlier = earlier_answers.get(party.id)
            link.earlier_answer = earlier.decision if earlier else None
            issued.append(link)
        return agreement, issued


def check_sending_terms(
    message, answer_by, remind_every_days, today: date, max_age_days: int, signing_order=signing.TOGETHER
) -> SendingTerms:
    """The sending form's message, last day (YYYY-MM-DD), cadence (days) and signing order,
    checked; InvalidInput with a Swedish message per field if any cannot be used."""
    values, errors = text.field_errors({"message": ("Meddelandet", message, MESSAGE_MAX, False, False)})
    day = None
    if answer_by.strip():
        try:
            day = date.fromisoformat(answer_by.strip())
        except ValueError:
            errors["answer_by"] = "Skriv sista dag att svara som ÅÅÅÅ-MM-DD, till exempel 2026-03-31."
        else:
            if day < today:
                errors["answer_by"] = "Sista dag att svara har redan varit. Välj i dag eller en senare dag."
            elif day > today + timedelta(days=max_age_days):
                errors["answer_by"] = (
                    f"Sista dag att svara kan vara högst {max_age_days} dagar fram, så länge en länk gäller."
                )
    every = None
    if remind_every_days.strip():
        try:
            every = int(remind_every_days.strip())
        except ValueError:
            every = 0
        if not 1 <= every <= REMIND_EVERY_MAX:
            errors["remind_every_days"] = f"Påminn var 1–{REMIND_EVERY_MAX}:e dag, eller lämna fältet tomt."
    if not isinstance(signing_order, str) or signing_order not in signing.SIGNING_ORDERS:
        errors["signing_order"] = signing.UNKNOWN_ORDER
    if errors:
        raise InvalidInput(" ".join(errors.values()), errors)
    return SendingTerms(values["message"], day, every, signing_order)


def _terms_details(terms: SendingTerms) -> dict:
    """The sending terms the official set, for the audit trail (none when none were set)."""
    details = {
        "answer_by": terms.answer_by and terms.answer_by.isoformat(),
        "remind_every_days": terms.remind_every_days,
        "signing_order": terms.signing_order if terms.signing_order != signing.TOGETHER else None,
    }
    if terms.message:
        details["message"] = terms.message
    return {key: value for key, value in details.items() if value}


def check_change_note(note: str) -> str:
    """The official's sentence on what changed, cleaned; InvalidInput if it cannot be sent."""
    values, errors = text.field_errors(
        {"change_note": ("Beskrivningen av ändringen", note, text.CHANGE_NOTE_MAX, False, True)}
    )
    if errors:
        raise InvalidInput(errors["change_note"], errors)
    return values["change_note"]


def _check_page_reads_as_pdf(files, rendition, pdf, docx):
    """InvalidInput naming the first difference between the party's page and the PDF, if any."""
    html = files.get(rendition["html_sha256"]).decode("utf-8")
    if problem := wording.difference(html, pdf, docx):
        raise InvalidInput(problem)


def handlers(session, agreement) -> list[User]:
    """The agreement's handläggare: its creator and the colleagues added to it, in that order."""
    return list(
        session.scalars(
            select(User)
            .join(AgreementHandler, AgreementHandler.user_id == User.id)
            .where(AgreementHandler.agreement_id == agreement.id)
            .order_by(AgreementHandler.id)
        )
    )


# What a handläggare hears of an agreement by email: every answer as it comes, one summary a
# day, or only that the agreement is complete. Declines and completion reach them all.
NOTIFY_CHOICES = ("every", "daily", "completion")
NOTIFY_LABELS = {
    "every": "Vid varje svar",
    "daily": "En sammanfattning per dag",
    "completion": "Bara när avtalet är klart",
}


def notice_recipients(session, agreement, choices) -> list[str]:
    """The addresses of the agreement's handläggare whose choice is one of `choices`."""
    return list(
        session.scalars(
            select(User.email)
            .join(AgreementHandler, AgreementHandler.user_id == User.id)
            .where(AgreementHandler.agreement_id == agreement.id, AgreementHandler.notify.in_(choices))
            .order_by(AgreementHandler.id)
        )
    )


def notify_choice(session, agreement, user) -> str | None:
    """What `user` hears of the agreement by email; None if they are not its handläggare."""
    handler = handler_row(session, agreement, user) if user is not None else None
    return handler.notify if handler is not None else None


def set_notify(session, agreement, user, choice, actor) -> None:
    """The handläggare's own choice of what to hear of this agreement."""
    if choice not in NOTIFY_CHOICES:
        raise InvalidInput("Välj ett av alternativen för e-post om avtalet.")
    handler = handler_row(session, agreement, user)
    if handler is None:
        raise NotAllowed("Bara avtalets handläggare kan välja vad de får veta om avtalet.")
    handler.notify = choice
    audit.record(session, "notify_changed", actor, agreement.id, email=user.email, choice=choice)


def add_handler(session, agreement, email, user, actor) -> User:
    """A colleague becomes a handläggare of the agreement too; only a handläggare (or an admin) may add one."""
    require_handler(session, user, agreement)
    colleague = session.scalar(select(User).where(User.email == email.strip().lower()))
    if colleague is None or colleague.role not in roles.DRAFTERS:
        raise InvalidInput(f"Det finns ingen handläggare med e-postadressen {email.strip()}.")
    if is_handler(session, colleague, agreement) and colleague.role != roles.ADMIN:
        raise Conflict(f"{colleague.email} är redan handläggare för avtalet.")
    session.add(AgreementHandler(agreement_id=agreement.id, user_id=colleague.id, added_by_id=user.id))
    audit.record(session, "handler_added", actor, agreement.id, email=colleague.email)
    return colleague


def set_registry_email(session, agreement, email, user, actor) -> str:
    """The address of the registratur that gets this agreement's final PDF ("" for none)."""
    require_handler(session, user, agreement)
    email = email.strip()
    if email and (len(email) > text.EMAIL_MAX or not is_mailbox(email)):
        raise InvalidInput("Skriv en e-postadress som registrator@region.se, en enda adress, eller lämna fältet tomt.")
    agreement.registry_email = email
    audit.record(session, "registry_email_set", actor, agreement.id, email=email)
    return email


def get_agreement(session, agreement_id) -> Agreement:
    """The agreement with this id, or NotFound."""
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"Det finns inget avtal med nummer {agreement_id}.")
    return agreement


def handled_agreement(session, agreement_id, user) -> Agreement:
    """The agreement, if `user` may change it: NotFound, or NotAllowed for someone not its handläggare."""
    agreement = get_agreement(session, agreement_id)
    require_handler(session, user, agreement)
    return agreement


def get_party(session, agreement, party_id) -> Party:
    """A party of this agreement, or NotFound."""
    party = session.get(Party, party_id)
    if party is None or party.agreement_id != agreement.id:
        raise NotFound("Parten finns inte i avtalet.")
    return party


def check_open_for_accession(agreement):
    """Conflict saying why, unless the agreement takes new parties (status.is_open_for_accession)."""
    if refusal := status.accession_refusal(agreement):
        raise Conflict(refusal)


def check_room_for(agreement, count) -> None:
    """InvalidInput if `count` more organisations would take the agreement past MAX_ACCEDED_PARTIES."""
    if agreement.acceded_count + count > MAX_ACCEDED_PARTIES:
        room = MAX_ACCEDED_PARTIES - agreement.acceded_count
        raise InvalidInput(
            f"Högst {MAX_ACCEDED_PARTIES} organisationer kan ansluta sig till överenskommelsen. "
            f"{agreement.acceded_count} har redan anslutit sig, så det finns plats för {room} till."
        )


def joined_org_numbers(session, agreement, org_numbers) -> set[str]:
    """Which of `org_numbers` are already parties of the agreement, read by index."""
    wanted = [n for n in org_numbers if n]
    if not wanted:
        return set()
    found = select(Party.org_number).where(Party.agreement_id == agreement.id, Party.org_number.in_(wanted))
    return set(session.scalars(found))


def add_parties(session, agreement, parties, actor, accession_id=None) -> list[Party]:
    """Accession: organisations (validated party data) join a completed överenskommelse. They
    become party rows of their own, never part of its text or data, and confirm the same frozen
    version; the agreement stays completed. Costs the same whatever the number already joined."""
    check_open_for_accession(agreement)
    check_room_for(agreement, len(parties))
    if joined := joined_org_numbers(session, agreement, [p["org_number"] for p in parties]):
        raise Conflict(f"Organisationen med organisationsnummer {', '.join(sorted(joined))} är redan part.")
    last = session.scalar(select(func.max(Party.position)).where(Party.agreement_id == agreement.id))
    added = []
    for position, data in enumerate(parties, start=(last or 0) + 1):
        representative = data.get("representative") or {}
        party = Party(
            agreement_id=agreement.id,
            position=position,
            name=data["name"][:300],
            org_number=data["org_number"],
            contact_email=data["contact_email"][:254],
            representative_name=representative.get("name", "")[:300],
            representative_title=representative.get("title", "")[:300],
            acceded=True,
            accession_id=accession_id,
        )
        session.add(party)
        added.append(party)
        audit.record(session, "party_added", actor, agreement.id, party=party.name, org_number=party.org_number)
    agreement.acceded_count += len(added)
    agreement.updated_at = utcnow()
    session.flush()
    return added


def add_party(session, serializer, agreement, party_data, max_age_days, actor) -> signing.IssuedLink:
    """One organisation joins, and gets its link at once."""
    check_open_for_accession(agreement)  # before its details: whether anyone may join comes first
    party = add_parties(session, agreement, [validate_party(party_data)], actor)[0]
    version = signing.latest_version(session, agreement.id)
    return signing.issue_link(session, serializer, party, version, max_age_days, actor)


def download_version(session, files, agreement_id, number, actor) -> tuple[Version, bytes]:
    """A frozen version's PDF (the newest when `number` is None), noted in the audit trail as downloaded."""
    versions = get_agreement(session, agreement_id).versions
    version = versions[-1] if number is None and versions else next((v for v in versions if v.number == number), None)
    if version is None:
        raise NotFound("Avtalet har ingen sådan låst version.")
    audit.record(session, "downloaded", actor, agreement_id, version=version.number, sha256=version.pdf_sha256)
    return version, files.get(version.pdf_sha256)


def download_final(session, files, agreement_id, number, actor) -> tuple[FinalDocument, bytes]:
    """A final PDF (the newest when `number` is None), noted in the audit trail as downloaded.
    While the job makes the final PDF of a completed agreement, the newest is not there yet."""
    agreement = get_agreement(session, agreement_id)
    documents = agreement.final_documents
    if number is None and status.is_completed(agreement) and final.current_final(session, agreement) is None:
        if problem := final.final_problem(session, agreement):
            raise Unavailable(problem)  # no longer retried: waiting will not help
        raise Conflict(
            "Den slutliga PDF:en görs just nu. Försök igen om några sekunder.", retry_after=FINAL_RETRY_AFTER
        )
    if number is None:
        document = documents[-1] if documents else None
    else:
        document = next((d for d in documents if d.number == number), None)
    if document is None:
        missing = "ingen slutlig PDF ännu" if number is None else f"ingen slutlig version {number}"
        raise NotFound(f"Avtalet har {missing}.")
    audit.record(session, "downloaded", actor, agreement_id, number=document.number, sha256=document.sha256)
    return document, files.get(document.sha256)
