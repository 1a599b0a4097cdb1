from sqlalchemy import select, text

from service import audit
from service.models import AuditEvent


def add_events(app, n=3):
    with app.extensions["db"].session() as session:
        for i in range(n):
            audit.record(session, "created", audit.Actor("user:a@example.se", "127.0.0.1", "pytest"), None, n=i)


def test_intact_chain_verifies(app, runner):
    add_events(app)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Granskningsloggen är hel (3 händelser)" in result.output


def test_each_event_links_to_the_one_before(app):
    add_events(app)
    with app.extensions["db"].session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]


def test_tampered_row_is_named(app, runner):
    add_events(app)
    with app.extensions["db"].engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET ip = '10.0.0.66' WHERE id = 2"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "bruten vid händelse 2: händelsens innehåll har ändrats" in result.output


def test_removed_row_is_named(app, runner):
    add_events(app, 4)
    with app.extensions["db"].engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 2"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "bruten vid händelse 3" in result.output


def test_actors_are_named_for_people():
    assert audit.actor_label("user:anna@example.se") == "anna@example.se"
    assert audit.actor_label("party:3 NÄTVERKET – Idéburen sektor Skåne") == "NÄTVERKET – Idéburen sektor Skåne (part)"
    assert audit.actor_label("system") == "Tjänsten"


def test_each_agreements_events_form_a_chain_of_their_own(app, client, api_token, iop_data, runner):
    auth = {"Authorization": f"Bearer {api_token}"}
    first, second = (client.post("/api/agreements", json=iop_data, headers=auth).json["id"] for _ in range(2))
    actor = audit.Actor("user:a@example.se")
    with app.extensions["db"].session() as session:
        audit.record(session, "draft_saved", actor, first)
        audit.record(session, "created", actor, None)  # an event of no agreement in between
        audit.record(session, "draft_saved", actor, second)
    with app.extensions["db"].session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    for agreement_id in (first, second):
        own = [r for r in rows if r.agreement_id == agreement_id]
        assert len(own) == 2 and own[0].agreement_prev_hash == audit.GENESIS
        assert own[1].agreement_prev_hash == own[0].hash != own[1].prev_hash
    assert [r.agreement_prev_hash for r in rows if r.agreement_id is None] == [None]

    forged = [r for r in rows if r.agreement_id == second][1]
    with app.extensions["db"].engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET agreement_prev_hash = :h WHERE id = :i"), {"h": "1" * 64, "i": forged.id}
        )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"bruten vid händelse {forged.id}" in result.output
