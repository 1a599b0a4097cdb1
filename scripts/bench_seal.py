"""The seal, verification and archive packages, measured side by side in one run.

assemble_ms      the unsealed final PDF of the Skåne IOP: agreement, signing sheet and appendix through
                 the warm LibreOffice, the frozen agreement attached (what final.py does before sealing)
seal_ms          sealing that PDF (pyHanko, PAdES B-B with the instance's self-signed key)
seal_added_bytes what the seal adds to the file
verify_ms        verifying the sealed final as `flask verify` does (seal + SHA-256 lookup)
export_100_s     archive packages for 100 completed agreements, written as `flask export` writes them
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import drafting_official, migrated_app  # noqa: E402
from sqlalchemy import select  # noqa: E402

from service import agreements, audit, final, signing  # noqa: E402
from service.models import Agreement, AuditEvent, FinalDocument, Party, Version  # noqa: E402
from service.records import archive_package, verification  # noqa: E402

ACTOR = audit.Actor("user:bench@example.se")


class Client:
    ip = "127.0.0.1"
    user_agent = "bench"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def complete_agreement(app, data) -> int:
    """Send the agreement and confirm it for every party, then make its final PDF."""
    db, files, office, sealer = (app.extensions[name] for name in ("db", "files", "office", "seal"))
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with db.session() as session:
        user = drafting_official(session)
        agreement_id = agreements.create_draft(session, files, data, user, ACTOR).id
    _, issued = agreements.send_for_signature(db, files, office, sealer, serializer, agreement_id, 30, user, ACTOR)
    for link in issued:
        with db.session() as session:
            signing.confirm(
                session, serializer, link.token, "Anna Andersson", "Ordförande", "Malmö", Client(), max_age_days=30
            )
    final.assemble_final(db, files, office, sealer, agreement_id)
    return agreement_id


def unsealed_final(app, agreement_id) -> bytes:
    """The final PDF as final.py builds it, up to (not including) the seal."""
    db, files, office = app.extensions["db"], app.extensions["files"], app.extensions["office"]
    with db.session() as session:
        facts = final.gather(session, session.get(Agreement, agreement_id))
    return final.build_final_pdf(facts, files, office)


def copy_completed(session, agreement_id, copies):
    """`copies` more completed agreements with the same stored files and trail: what the export reads."""
    source = session.get(Agreement, agreement_id)
    version, document = source.versions[-1], source.final_documents[-1]
    events = audit.events_for(session, agreement_id)
    for n in range(copies):
        agreement = Agreement(
            kind=source.kind,
            title=source.title,
            registration_number=f"{source.registration_number}-{n}",
            status="completed",
            data=source.data,
            data_sha256=source.data_sha256,
        )
        session.add(agreement)
        session.flush()
        for party in source.parties:
            session.add(
                Party(agreement_id=agreement.id, position=party.position, name=party.name, org_number=party.org_number)
            )
        copy = Version(agreement_id=agreement.id, number=1, data=version.data, pdf_sha256=version.pdf_sha256)
        session.add(copy)
        session.flush()
        session.add(
            FinalDocument(
                agreement_id=agreement.id,
                number=1,
                version_id=copy.id,
                confirmation_count=document.confirmation_count,
                sha256=document.sha256,
            )
        )
        for event in events:
            audit.record(session, event.event, audit.Actor(event.actor, event.ip), agreement.id, **event.details)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--agreements", type=int, default=100)
    args = parser.parse_args()
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(Path(tmp) / "instance")
        try:
            agreement_id = complete_agreement(app, data)
            with app.extensions["db"].session() as session:
                stored = app.extensions["files"].get(session.get(Agreement, agreement_id).final_documents[-1].sha256)
            samples = {"assemble_ms": [], "seal_ms": [], "verify_ms": []}
            added = []
            for i in range(args.runs):
                assemble_ms, unsealed = timed(lambda: unsealed_final(app, agreement_id))
                seal_ms, sealed = timed(lambda: app.extensions["seal"].seal(unsealed))  # noqa: B023 (called at once)
                with app.extensions["db"].session() as session:
                    verify_ms, result = timed(
                        lambda: verification.verify_pdf(session, app.extensions["seal"], stored)  # noqa: B023
                    )
                assert result.ok, result.problems
                samples["assemble_ms"].append(assemble_ms)
                samples["seal_ms"].append(seal_ms)
                samples["verify_ms"].append(verify_ms)
                added.append(len(sealed) - len(unsealed))
                print(f"run {i + 1}/{args.runs}", {k: round(v[-1], 1) for k, v in samples.items()}, file=sys.stderr)

            with app.extensions["db"].session() as session:
                copy_completed(session, agreement_id, args.agreements - 1)
            with app.extensions["db"].session() as session:
                today = archive_package.utcnow().date()
                ids = archive_package.completed_between(session, today - timedelta(days=1), today + timedelta(days=1))
            assert len(ids) == args.agreements, len(ids)
            start = time.perf_counter()
            total_bytes = 0
            for exported_id in ids:
                package = archive_package.export_agreement(
                    app.extensions["db"], app.extensions["files"], exported_id, ACTOR
                )
                total_bytes += archive_package.write_package(package, Path(tmp) / "export").stat().st_size
            export_s = time.perf_counter() - start
            with app.extensions["db"].session() as session:
                exports = len(session.scalars(select(AuditEvent.id).where(AuditEvent.event == "exported")).all())
            assert exports == args.agreements
            final_size = len(stored)
        finally:
            app.extensions["office"].stop()
    result = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    result.update(
        runs=args.runs,
        seal_over_assemble=round(result["seal_ms"] / result["assemble_ms"], 3),
        seal_added_bytes=int(statistics.median(added)),
        final_bytes=final_size,
        export_agreements=args.agreements,
        export_100_s=round(export_s * 100 / args.agreements, 2),
        export_ms_per_package=round(export_s * 1000 / args.agreements, 1),
        export_mb=round(total_bytes / 1e6, 1),
        level=app.extensions["seal"].level,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
