"""Database tables. Rows that record what happened (versions, confirmations,
final documents, audit events) are only ever inserted, never updated or deleted."""

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))  # official, archivist, admin
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # unused: see api_tokens
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Raised on logout and password change: a session cookie of an older generation is void.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CustomTemplate(Base):
    """A version of a kind's Word template an official uploaded, checked and kept by its SHA-256."""

    __tablename__ = "custom_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    variables: Mapped[list] = mapped_column(JSON)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(300), default="", server_default="")  # what this version changes


class TemplateChoice(Base):
    """A version made active for new drafts of a kind, or retired; append-only, the latest row
    for a kind's 'activate' names the active version (template_id None: the built-in one)."""

    __tablename__ = "template_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    action: Mapped[str] = mapped_column(String(10))  # activate, retire
    template_id: Mapped[int | None] = mapped_column(ForeignKey("custom_templates.id"))
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    registration_number: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft, sent, completed, declined
    data: Mapped[dict] = mapped_column(JSON)  # the current draft, as validated form data
    data_sha256: Mapped[str] = mapped_column(String(64))  # every saved draft is also kept in the file store
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("custom_templates.id"))  # None: built-in
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Derived from `data` whenever it is saved (listing.index_columns), so lists filter in SQL.
    search_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    registration_key: Mapped[str] = mapped_column(String(60), default="")
    party_count: Mapped[int] = mapped_column(Integer, default=0)
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    # A draft never sent whose content retention removed (retention.py); the row and its trail stay.
    removed_at: Mapped[datetime | None]
    registry_email: Mapped[str] = mapped_column(String(254), default="", server_default="")  # its registratur
    # Organisations that joined the completed överenskommelse later: rows of `parties`, never in `data`.
    acceded_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    versions: Mapped[list["Version"]] = relationship(back_populates="agreement", order_by="Version.number")
    parties: Mapped[list["Party"]] = relationship(back_populates="agreement", order_by="Party.position")
    final_documents: Mapped[list["FinalDocument"]] = relationship(
        back_populates="agreement", order_by="FinalDocument.number"
    )
    template: Mapped[CustomTemplate | None] = relationship()


class AgreementHandler(Base):
    """An official who may change the agreement and issue its links: its creator and the
    colleagues added to it. Other officials may read it."""

    __tablename__ = "agreement_handlers"
    __table_args__ = (UniqueConstraint("agreement_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notify: Mapped[str] = mapped_column(String(20), default="every", server_default="every")  # NOTIFY_CHOICES
    summary_sent_at: Mapped[datetime | None]  # the daily summary covers answers after this

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Version(Base):
    """The agreement text frozen for signature: its PDF is what the parties confirm."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON, deferred=True)  # large; read only when rendering
    template_sha256: Mapped[str | None] = mapped_column(String(64))  # the template filled; None: built-in
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    change_note: Mapped[str] = mapped_column(String(300), default="", server_default="")  # to the parties
    # What the official set when sending: a personal message, the last day to answer, a reminder cadence.
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    answer_by: Mapped[date | None]
    remind_every_days: Mapped[int | None] = mapped_column(Integer)
    # In what order the parties get their links (signing.SIGNING_ORDERS): all at once by default.
    signing_order: Mapped[str] = mapped_column(String(20), default="together", server_default="together")

    agreement: Mapped[Agreement] = relationship(back_populates="versions")


class Rendition(Base):
    """What a party reads of a frozen PDF, made once: page images and an HTML text, stored by SHA-256."""

    __tablename__ = "renditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    html_sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[list] = mapped_column(JSON)  # [{"width", "height", "png": {"640": sha256, "1280": sha256}}]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Party(Base):
    """A party: one named in the agreement's text (its data's list, by position), or an
    organisation that joined the completed överenskommelse later (`acceded`), whose details
    live only here, so the text and the agreement's data never grow with accession."""

    __tablename__ = "parties"
    __table_args__ = (
        UniqueConstraint("agreement_id", "position"),
        Index("ix_parties_agreement_org_number", "agreement_id", "org_number"),
        Index("ix_parties_agreement_acceded_position", "agreement_id", "acceded", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    position: Mapped[int] = mapped_column(Integer)  # index in the agreement's parties list
    name: Mapped[str] = mapped_column(String(300))
    org_number: Mapped[str] = mapped_column(String(11))
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    accession_id: Mapped[int | None] = mapped_column(ForeignKey("accessions.id"), index=True)
    # When a list's job claimed the party for its link, until lists were claimed a batch of rows at
    # a time (Accession.rows_done, migration 0013); kept for those rows, set no more: the link says when.
    invited_at: Mapped[datetime | None]
    acceded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    representative_name: Mapped[str] = mapped_column(String(300), default="", server_default="")  # acceded
    representative_title: Mapped[str] = mapped_column(String(300), default="", server_default="")

    agreement: Mapped[Agreement] = relationship(back_populates="parties")
    links: Mapped[list["SigningLink"]] = relationship(back_populates="party", order_by="SigningLink.id")


class SigningLink(Base):
    """One party's one-time link to one frozen version. Only a hash of its nonce is kept."""

    __tablename__ = "signing_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    nonce_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # Opens are counted here; the audit trail notes at most one per link and day.
    open_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_opened_at: Mapped[datetime | None]
    delivery: Mapped[str] = mapped_column(String(20), default="")  # "", emailed, failed
    # Where a link passed on by the party went ("Skicka vidare"); None: the party's contact address.
    sent_to: Mapped[str | None] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # The evidence an accession record shows, kept on the link so it is read without the trail.
    issued_by: Mapped[str] = mapped_column(String(320), default="", server_default="")  # the audit actor
    first_opened_at: Mapped[datetime | None]

    party: Mapped[Party] = relationship(back_populates="links")
    version: Mapped[Version] = relationship()


class Accession(Base):
    """A list of organisations (CSV, XLSX or API) joining an överenskommelse together.
    The list itself is kept in the file store; its rows become parties when accepted."""

    __tablename__ = "accessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    # the rows read from the list at upload (JSON in the file store), so it is never parsed again
    rows_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="checked")  # checked, sending, done
    # The list's rows, and those the job has handled so far (joined or skipped), claimed a batch at a time.
    rows_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]


class Confirmation(Base):
    """A party's answer through a link: confirmed (with place) or declined (with reason)."""

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("signing_links.id"), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # confirmed, declined
    signer_name: Mapped[str] = mapped_column(String(300), default="")
    signer_title: Mapped[str] = mapped_column(String(300), default="")
    place: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    receipt_email: Mapped[str] = mapped_column(String(254), default="")  # given on the page, for receipts

    party: Mapped[Party] = relationship()
    version: Mapped[Version] = relationship()


class FinalDocument(Base):
    """An assembled final PDF. A new one is made for each accession; none is replaced."""

    __tablename__ = "final_documents"
    __table_args__ = (
        UniqueConstraint("agreement_id", "number"),
        UniqueConstraint("agreement_id", "confirmation_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    number: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    confirmation_count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agreement: Mapped[Agreement] = relationship(back_populates="final_documents")


class AccessionRecord(Base):
    """The sealed record of one organisation's accession: made from its confirmation, once."""

    __tablename__ = "accession_records"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    number: Mapped[int] = mapped_column(Integer)  # "Anslutning N": the Nth organisation to join by confirming
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    party: Mapped[Party] = relationship()


class PartyRegister(Base):
    """A sealed "Förteckning över undertecknande organisationer" with its CSV and XLSX, as it
    stood when made: every confirmation up to `last_record_id`."""

    __tablename__ = "party_registers"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    number: Mapped[int] = mapped_column(Integer)
    last_record_id: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    csv_sha256: Mapped[str] = mapped_column(String(64))
    xlsx_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only; each event's hash covers its content and the hash of the one before."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("agreement_id", "agreement_prev_hash", name="uq_audit_events_agreement_prev_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # a fork in the chain cannot be stored
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The hash of the agreement's previous event (zeros for its first): its own chain, which its
    # archive package can be checked with alone. None for events of no agreement and older events.
    agreement_prev_hash: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A bearer token for the API. Only its SHA-256 is kept; a user may hold several (one per integration)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class IdempotencyKey(Base):
    """A POST the API has answered, by the client's Idempotency-Key: a retry gets the same answer.
    The key is kept as a hash and the answer encrypted with it, since answers may hold signing links."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key_sha256: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))  # method, path and body
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the first request runs
    response: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """A URL an admin registered to receive signed events of the chosen types."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)  # audit events up to here are fanned out

    secrets: Mapped[list["WebhookSecret"]] = relationship(order_by="WebhookSecret.id")


class WebhookSecret(Base):
    """A signing secret (whsec_...). Rotation adds a new one and lets the old one expire later,
    so deliveries carry both signatures during the overlap."""

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint: the exact body sent on every attempt, and when to try next."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "audit_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"))
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)  # None: delivered or given up
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    attempts: Mapped[list["WebhookAttempt"]] = relationship(order_by="WebhookAttempt.number")


class WebhookAttempt(Base):
    """One try to deliver: claimed (inserted) before sending, so a job run twice sends once."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")


class LimitHit(Base):
    """One counted attempt against a rate limit (service/limits.py), shared by all hosts."""

    __tablename__ = "limit_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]


class Classification(Base):
    """A process in the region's klassificeringsstruktur that agreements are registered under.
    The admin keeps the list; a process no longer used is retired, never removed, since
    agreements registered under it keep its code."""

    __tablename__ = "classifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
