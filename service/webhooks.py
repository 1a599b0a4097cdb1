"""Signed webhooks (Standard Webhooks): delivery only.

The audit trail is the outbox. Nothing that records an event knows about webhooks:
`fan_out` reads the audit events recorded since each endpoint's cursor and stores one
delivery per event and endpoint, with the exact body every attempt will send. Audit
appends are serialised up to their commit (see audit._lock_chain), so event ids become
visible in order and a cursor never skips one.

`deliver` makes one attempt. It first claims the attempt by inserting its numbered row
(unique per delivery) and moving the next try into the future, then sends: a job that
runs twice, or on two machines at once, sends once per attempt record. A failed attempt
is tried again after an exponentially growing delay; the state lives in the database, so
a periodic sweep finds due deliveries whatever happened to the queue.

What is signed (documented in the README): `webhook-id + "." + webhook-timestamp + "." + body`,
HMAC-SHA256 with the base64-decoded part of each live `whsec_` secret, sent as
`webhook-signature: v1,<base64> [v1,<base64>]` (two while a rotated secret overlaps).
"""

import base64
import json
import secrets
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import case, event, func, or_, select
from sqlalchemy.exc import IntegrityError
from standardwebhooks import Webhook

from . import audit
from .errors import InvalidInput, NotFound
from .models import Agreement, AuditEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret, utcnow


def _declines_the_agreement(session, row: AuditEvent) -> bool:
    """Whether this decline is the one that declined the agreement as a whole: no other decline
    since its version was frozen or a party last confirmed (a confirmation through a reissued
    link may have taken it back to sent)."""
    since = (
        select(func.max(AuditEvent.id))
        .where(
            AuditEvent.agreement_id == row.agreement_id,
            AuditEvent.event.in_(("version_frozen", "confirmed")),
            AuditEvent.id < row.id,
        )
        .scalar_subquery()
    )
    earlier = select(AuditEvent.id).where(
        AuditEvent.agreement_id == row.agreement_id,
        AuditEvent.event == "declined",
        AuditEvent.id < row.id,
        AuditEvent.id > func.coalesce(since, 0),
    )
    return session.scalar(earlier.limit(1)) is None


@dataclass(frozen=True)
class EventType:
    """A webhook event: the audit event it is made from, and the details of that event its
    `data` carries beside `agreement` (`at` is the event's time, `url` the final PDF's API address).
    `when`, if given, says whether an audit event is this kind (several kinds may share one audit event)."""

    name: str
    audit_event: str
    label: str
    fields: tuple[str, ...] = ()
    when: Callable[..., bool] | None = None


# Every change a party or an official makes to an agreement, in the order an endpoint's one
# message per change takes its kind: the first the endpoint subscribes to that applies.
EVENTS = (
    EventType("agreement.created", "created", "Ett utkast har skapats"),
    EventType("agreement.updated", "draft_saved", "Ett utkast har ändrats"),
    EventType("agreement.sent", "version_frozen", "Avtalet skickat för signering", ("version", "pdf_sha256")),
    EventType("version.frozen", "version_frozen", "En ny version har låsts", ("version", "pdf_sha256")),
    EventType("handler.added", "handler_added", "En handläggare har lagts till", ("email",)),
    EventType("party.added", "party_added", "En part har anslutits", ("party", "org_number")),
    EventType("link.issued", "link_issued", "En länk har skickats till en part", ("party", "version", "expires_at")),
    EventType("link.revoked", "revoked", "En parts länk har återkallats", ("party",)),
    EventType(
        "link.forwarded",
        "forwarded",
        "En part har skickat vidare sin länk till den som får skriva under",
        ("party", "name"),
    ),
    EventType("reminder.sent", "reminder_sent", "En påminnelse har skickats till en part", ("party", "at")),
    EventType("deadline.passed", "deadline_passed", "Sista dag att svara har passerat", ("version", "waiting")),
    EventType(
        "party.confirmed", "confirmed", "En part har bekräftat", ("party", "name", "title", "place", "version", "at")
    ),
    EventType(
        "agreement.declined", "declined", "Avtalet har avböjts", ("party", "reason", "at"), _declines_the_agreement
    ),
    EventType("party.declined", "declined", "En part har avböjt", ("party", "reason", "version", "at")),
    EventType(
        "answer.voided",
        "answer_voided",
        "En parts svar gäller inte längre: avtalstexten har ändrats",
        ("party", "decision", "version"),
    ),
    EventType("agreement.completed", "completed", "Alla parter har bekräftat", ("version", "parties")),
    EventType("final.ready", "final_assembled", "Den slutliga PDF:en är klar", ("number", "sha256", "url")),
    EventType("final.retried", "final_retried", "En handläggare har bett om ett nytt försök med den slutliga PDF:en"),
    EventType(
        "party.joined",
        "accession_recorded",
        "En organisation har anslutit sig: dess anslutningsbevis är förseglat",
        ("party", "org_number", "number", "sha256", "record_url"),
    ),
    EventType("register.made", "register_made", "En ny förteckning över parterna är gjord", ("number", "rows")),
)
TYPE_LABELS = {event.name: event.label for event in EVENTS}
AUDIT_EVENTS = {event.audit_event for event in EVENTS}
# What each field looks like, for the description's schemas and the README's example bodies.
EXAMPLE_AGREEMENT = {
    "id": 42,
    "kind": "iop",
    "title": "IOP om stöd till brottsutsatta",
    "registration_number": "RS 2026/117",
    "url": "https://avtal.example.se/api/agreements/42",
}
EXAMPLE_VALUES: dict[str, Any] = {
    "version": 1,
    "pdf_sha256": "5d41402abc4b2a76b9719d911017c592" * 2,
    "email": "handlaggare@region.example.se",
    "party": "Brottsofferjouren Skåne",
    "org_number": "802400-1234",
    "expires_at": "2026-03-01T12:00:00",
    "name": "Anna Andersson",
    "title": "Ordförande",
    "place": "Malmö",
    "reason": "Beloppet stämmer inte med vår ansökan.",
    "decision": "confirmed",
    "at": "2026-02-01T09:30:00Z",
    "parties": 2,
    "number": 1,
    "sha256": "7d865e959b2466918c9863afca942d0f" * 2,
    "url": "https://avtal.example.se/api/agreements/42/final.pdf",
    "record_url": "https://avtal.example.se/api/agreements/42/records/1.pdf",
    "rows": 3,
    "waiting": ["Brottsofferjouren Skåne"],
}
FAN_OUT_BATCH = 500
LOG_PAGE = 50


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_endpoint(url: str, events) -> dict[str, str]:
    """Swedish errors per field for a new endpoint; empty if it may be stored."""
    errors = {}
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["url"] = "Ange en fullständig adress som börjar med https:// (eller http://)."
    elif len(url) > 2000 or any(ch.isspace() for ch in url.strip()):
        errors["url"] = "Adressen får vara högst 2000 tecken utan mellanslag."
    if not events:
        errors["events"] = "Välj minst en händelse."
    elif unknown := [e for e in events if e not in TYPE_LABELS]:
        errors["events"] = f"Okänd händelse: {', '.join(unknown)}. Välj bland {', '.join(TYPE_LABELS)}."
    return errors


def add_endpoint(session, url, events, actor) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for events from now on. Returns it and its secret (shown once)."""
    errors = check_endpoint(url, events)
    if errors:
        raise InvalidInput(" ".join(errors.values()), errors=errors)
    start = session.scalar(select(func.max(AuditEvent.id))) or 0
    endpoint = WebhookEndpoint(
        url=url.strip(), events=sorted(set(events)), created_by=actor.name, last_event_id=start, created_at=utcnow()
    )
    session.add(endpoint)
    session.flush()
    secret = new_secret()
    session.add(WebhookSecret(endpoint_id=endpoint.id, secret=secret, created_at=utcnow()))
    audit.record(session, "webhook_added", actor, endpoint_id=endpoint.id, url=endpoint.url, events=endpoint.events)
    return endpoint, secret


def get_endpoint(session, endpoint_id) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("Webhooken finns inte.")
    return endpoint


def rotate_secret(session, endpoint, overlap: timedelta, actor) -> str:
    """A new secret; the current ones stay valid for `overlap`, so receivers can switch without a gap."""
    now = utcnow()
    for old in live_secrets(session, endpoint, now):
        old.expires_at = min(old.expires_at or now + overlap, now + overlap)
    secret = new_secret()
    session.add(WebhookSecret(endpoint_id=endpoint.id, secret=secret, created_at=now))
    audit.record(
        session, "webhook_secret_rotated", actor, endpoint_id=endpoint.id, overlap_hours=overlap.total_seconds() / 3600
    )
    return secret


def disable_endpoint(session, endpoint, actor):
    """Stop sending to the endpoint; its log stays, and pending deliveries are given up."""
    if endpoint.disabled_at is None:
        now = utcnow()
        endpoint.disabled_at = now
        for delivery in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.next_attempt_at.is_not(None)
            )
        ):
            delivery.next_attempt_at, delivery.failed_at = None, now
        audit.record(session, "webhook_disabled", actor, endpoint_id=endpoint.id, url=endpoint.url)


def live_secrets(session, endpoint, now) -> list[WebhookSecret]:
    """The secrets deliveries are signed with now, newest first."""
    return list(
        session.scalars(
            select(WebhookSecret)
            .where(
                WebhookSecret.endpoint_id == endpoint.id,
                or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
            )
            .order_by(WebhookSecret.id.desc())
        )
    )


def endpoints(session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


# --- fan-out: audit events -> deliveries ---


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _data(session, row: AuditEvent, kind: EventType, public_url: str) -> dict:
    """What the integration needs to act on the event, from the event itself and the agreement."""
    agreement = session.get(Agreement, row.agreement_id)
    api = f"{public_url.rstrip('/')}/api/agreements/{row.agreement_id}"
    data: dict[str, Any] = {
        "agreement": {
            "id": agreement.id,
            "kind": agreement.kind,
            "title": agreement.title,
            "registration_number": agreement.registration_number,
            "url": api,
        }
    }
    computed = {
        "at": _iso(row.created_at),
        "url": f"{api}/final.pdf",
        "record_url": f"{api}/records/{row.details.get('number')}.pdf",
    }
    for name in kind.fields:
        data[name] = row.details[name] if name in row.details else computed[name]
    return data


def body_for(session, row: AuditEvent, kind: EventType, public_url: str) -> str:
    payload = {"type": kind.name, "timestamp": _iso(row.created_at), "data": _data(session, row, kind, public_url)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def example_body(kind: EventType) -> dict:
    """The body of an event of this kind, with example values (for the README and the description)."""
    data = {"agreement": EXAMPLE_AGREEMENT, **{name: EXAMPLE_VALUES[name] for name in kind.fields}}
    return {"type": kind.name, "timestamp": "2026-02-01T09:30:00Z", "data": data}


def kind_for(session, row: AuditEvent, subscribed) -> EventType | None:
    """The kind of an audit event's one message to an endpoint subscribed to `subscribed`, if any."""
    return next(
        (
            kind
            for kind in EVENTS
            if kind.audit_event == row.event
            and kind.name in subscribed
            and (kind.when is None or kind.when(session, row))
        ),
        None,
    )


def fan_out(session, public_url: str) -> list[int]:
    """Store a delivery for every new audit event each active endpoint subscribes to.
    Returns the new deliveries' ids. Running it twice stores nothing twice."""
    now = utcnow()
    created = []
    active = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)).with_for_update()
    ).all()
    for endpoint in active:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id > endpoint.last_event_id, AuditEvent.event.in_(AUDIT_EVENTS))
            .order_by(AuditEvent.id)
            .limit(FAN_OUT_BATCH)
        ).all()
        for row in rows:
            kind = kind_for(session, row, endpoint.events)
            if kind is None:
                continue
            delivery = WebhookDelivery(
                endpoint_id=endpoint.id,
                audit_event_id=row.id,
                message_id=f"msg_{row.hash[:32]}",
                event_type=kind.name,
                body=body_for(session, row, kind, public_url),
                created_at=now,
                next_attempt_at=now,
            )
            session.add(delivery)
            session.flush()
            created.append(delivery.id)
        if rows:
            endpoint.last_event_id = rows[-1].id
    return created


def has_more_to_fan_out(session) -> bool:
    """Whether an endpoint's cursor is still behind (more than one batch was waiting)."""
    latest = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.event.in_(AUDIT_EVENTS))) or 0
    behind = session.scalar(
        select(func.count(WebhookEndpoint.id)).where(
            WebhookEndpoint.disabled_at.is_(None), WebhookEndpoint.last_event_id < latest
        )
    )
    return bool(behind)


def watch_for_events(sessionmaker, nudge):
    """Call `nudge()` after each commit that recorded an event webhooks carry, if any endpoint
    listens. Only a hint to fan out soon: the periodic sweep fans out whatever a nudge missed."""

    active = select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None)).limit(1)

    @event.listens_for(sessionmaker, "after_flush")
    def _note(session, _flush_context):
        if session.info.get("webhook_events"):
            return
        if any(isinstance(obj, AuditEvent) and obj.event in AUDIT_EVENTS for obj in session.new):
            session.info["webhook_events"] = session.connection().execute(active).first() is not None

    @event.listens_for(sessionmaker, "after_commit")
    def _nudge(session):
        if session.info.pop("webhook_events", False):
            nudge()

    @event.listens_for(sessionmaker, "after_rollback")
    def _forget(session):
        session.info.pop("webhook_events", None)


# --- delivery: one attempt at a time ---


@dataclass
class Policy:
    """How hard to try: attempts, the first retry delay (doubling each time), the HTTP timeout."""

    attempts: int = 13
    first_retry: float = 30.0
    timeout: float = 10.0

    def delay_after(self, attempt: int) -> timedelta:
        return timedelta(seconds=self.first_retry * 2 ** (attempt - 1))

    def total(self) -> timedelta:
        """How long a delivery is tried before it is given up."""
        return sum((self.delay_after(n) for n in range(1, self.attempts)), timedelta())


def sign(secrets_, message_id: str, timestamp: datetime, body: str) -> str:
    """The webhook-signature header: one `v1,<base64>` per live secret, space-separated."""
    return " ".join(Webhook(s).sign(message_id, timestamp, body) for s in secrets_)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer like any other non-2xx: not followed, retried


_opener = urllib.request.OpenerDirector()
for _handler in (urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(), _NoRedirects()):
    _opener.add_handler(_handler)


def post(url, message_id, body, signing_secrets, timeout) -> int:
    """Send one signed POST; returns the HTTP status (no proxies, no redirects followed)."""
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Avtalstjansten-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(signing_secrets, message_id, now, body),
    }
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    with _opener.open(request, timeout=timeout) as response:
        response.read(64 * 1024)
        return response.status


@dataclass
class Outcome:
    sent: bool  # whether this call made an attempt at all
    delivered: bool = False
    retry_in: float | None = None  # seconds until the next attempt, if any


def _claim(db, delivery_id, policy) -> tuple | None:
    """Reserve the next attempt in its own transaction; None if not due or already taken."""
    try:
        with db.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            now = utcnow()
            if delivery is None or delivery.next_attempt_at is None or delivery.next_attempt_at > now:
                return None
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            number = delivery.attempt_count + 1
            attempt = WebhookAttempt(delivery_id=delivery.id, number=number, started_at=now)
            session.add(attempt)
            delivery.attempt_count = number
            # if this process dies mid-send, the sweep tries again after the timeout and the usual delay
            delivery.next_attempt_at = now + timedelta(seconds=policy.timeout) + policy.delay_after(number)
            session.flush()
            keys = [s.secret for s in live_secrets(session, endpoint, now)]
            return attempt.id, number, endpoint.url, delivery.message_id, delivery.body, keys
    except IntegrityError:  # another worker claimed this attempt number first
        return None


def deliver(db, delivery_id, policy: Policy) -> Outcome:
    """Make the next attempt of a delivery if it is due."""
    claimed = _claim(db, delivery_id, policy)
    if claimed is None:
        return Outcome(sent=False)
    attempt_id, number, url, message_id, body, keys = claimed
    status, error = None, ""
    try:
        status = post(url, message_id, body, keys, policy.timeout)
        if not 200 <= status < 300:
            error = f"Svarade HTTP {status}"
    except OSError as exc:  # refused, reset, timed out, name not found, TLS
        error = f"Kunde inte nå mottagaren: {getattr(exc, 'reason', None) or exc}"[:500]
    delivered = not error
    with db.session() as session:
        now = utcnow()
        attempt = session.get(WebhookAttempt, attempt_id)
        attempt.finished_at, attempt.status_code, attempt.error = now, status, error
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivered:
            delivery.delivered_at, delivery.next_attempt_at = now, None
            return Outcome(sent=True, delivered=True)
        if number >= policy.attempts or delivery.failed_at is not None:
            delivery.failed_at, delivery.next_attempt_at = delivery.failed_at or now, None
            return Outcome(sent=True)
        delay = policy.delay_after(number)
        delivery.next_attempt_at = now + delay
        return Outcome(sent=True, retry_in=delay.total_seconds())


def due_deliveries(session, limit=1000) -> list[int]:
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )


def get_delivery(session, delivery_id) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("Leveransen finns inte.")
    return delivery


def redeliver(session, delivery, actor):
    """An admin asks for one more try of a delivery that was given up (or to send it again)."""
    delivery.failed_at, delivery.next_attempt_at = None, utcnow()
    audit.record(session, "webhook_redelivered", actor, delivery_id=delivery.id, endpoint_id=delivery.endpoint_id)


def deliveries(session, endpoint_id, before=None) -> list[WebhookDelivery]:
    """An endpoint's delivery log, newest first, a page at a time (ids below `before`)."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(LOG_PAGE)))


def attempts_of(session, delivery_ids) -> dict[int, list[WebhookAttempt]]:
    """The attempts of these deliveries, in order, by delivery id (one query for a log page)."""
    out: dict[int, list[WebhookAttempt]] = {}
    rows = session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids)).order_by(WebhookAttempt.number)
    )
    for row in rows:
        out.setdefault(row.delivery_id, []).append(row)
    return out


def summary(session) -> dict[int, dict[str, int]]:
    """Per endpoint: how many deliveries arrived, are waiting for a retry, or were given up."""
    state = case(
        (WebhookDelivery.delivered_at.is_not(None), "delivered"),
        (WebhookDelivery.failed_at.is_not(None), "failed"),
        else_="pending",
    )
    out: dict[int, dict[str, int]] = {}
    for endpoint_id, key, n in session.execute(
        select(WebhookDelivery.endpoint_id, state, func.count()).group_by(WebhookDelivery.endpoint_id, state)
    ):
        out.setdefault(endpoint_id, {"delivered": 0, "pending": 0, "failed": 0})[key] = n
    return out
