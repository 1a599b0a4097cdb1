"""Retention (gallring): what is not a record leaves after the periods in the settings, each
removal in the audit trail; records stay."""

import os
import time

from sqlalchemy import select, update

from service import retention
from service.models import Agreement, AuditEvent, IdempotencyKey, Party, utcnow

from .helpers import bearer, count


def post_with_key(client, api_token, iop_data, key):
    headers = {**bearer(api_token), "Idempotency-Key": key}
    response = client.post("/api/agreements", json=iop_data, headers=headers)
    assert response.status_code == 201
    return response


def test_old_idempotency_answers_are_removed_and_the_removal_recorded(app, client, api_token, iop_data, runner):
    app.config["IDEMPOTENCY_RETENTION_DAYS"] = 7
    post_with_key(client, api_token, iop_data, "gammal")
    post_with_key(client, api_token, iop_data, "ny")
    with app.extensions["db"].session() as session:
        old_id = session.scalars(select(IdempotencyKey.id).order_by(IdempotencyKey.id)).first()
        session.execute(
            update(IdempotencyKey).where(IdempotencyKey.id == old_id).values(created_at=utcnow().replace(year=2020))
        )

    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0 and "1 sparade API-svar" in result.output
    with app.extensions["db"].session() as session:
        assert session.scalars(select(IdempotencyKey.id)).all() != [] and session.get(IdempotencyKey, old_id) is None
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == "retention")).all()
        assert event.details == {"what": "idempotency_answers", "count": 1, "ids": [old_id], "days": 7}
    assert count(app, Agreement) == 2  # the drafts they made are untouched
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert "0 sparade API-svar" in runner.invoke(args=["retention"]).output  # nothing twice, nothing recorded


def test_previews_not_used_for_the_period_are_removed_per_agreement(app, client, api_token, iop_data):
    app.config["PREVIEW_RETENTION_DAYS"] = 30
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    previews = app.extensions["previews"]
    previews.put(agreement_id, "a" * 64, b"%PDF-gammal")
    previews.put(agreement_id, "b" * 64, b"%PDF-ny")
    month_ago = time.time() - 31 * retention.DAY
    os.utime(previews.root / f"{agreement_id}-{'a' * 64}.pdf", (month_ago, month_ago))

    assert retention.run(app) == {"drafts": 0, "idempotency_answers": 0, "previews": 1}
    assert previews.get(agreement_id, "a" * 64) is None and previews.get(agreement_id, "b" * 64) == b"%PDF-ny"
    with app.extensions["db"].session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == "retention")).all()
        assert event.agreement_id == agreement_id and event.details == {"what": "previews", "count": 1, "days": 30}


def test_a_draft_never_sent_is_emptied_after_the_period_and_records_stay(app, client, api_token, iop_data, runner):
    app.config["DRAFT_RETENTION_DAYS"] = 365
    files = app.extensions["files"]
    old = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json["id"]
    fresh = client.post("/api/agreements", json=dict(iop_data, title="Ett nytt utkast"), headers=bearer(api_token))
    with app.extensions["db"].session() as session:
        saved = session.get(Agreement, old).data_sha256
        session.execute(update(Agreement).where(Agreement.id == old).values(updated_at=utcnow().replace(year=2020)))
    assert files.exists(saved)
    events_before = count(app, AuditEvent)

    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0 and "1 utkast som aldrig skickades" in result.output
    with app.extensions["db"].session() as session:
        emptied = session.get(Agreement, old)
        assert emptied.removed_at is not None and emptied.title == "" and emptied.data["parties"] == []
        assert session.scalars(select(Party).where(Party.agreement_id == old)).all() == []
        assert session.get(Agreement, fresh.json["id"]).title == "Ett nytt utkast"
        event = session.scalars(select(AuditEvent).where(AuditEvent.event == "retention")).one()
        assert event.agreement_id == old and event.details == {"what": "draft", "files": [saved], "days": 365}
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.agreement_id == old)).all()) == 2
    assert not files.exists(saved) and count(app, AuditEvent) == events_before + 1  # the trail only grew
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert "0 utkast" in runner.invoke(args=["retention"]).output
