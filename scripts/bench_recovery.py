"""Backup and restore of an instance with N completed agreements (issue "Security and
recovery, round three"): the agreements are made the real way (LibreOffice, seal, final
PDF), one more is left waiting for its parties, then

backup_s / restore_s      `flask backup` into a new folder, `flask restore` into an empty instance
audit_ok                  `flask audit verify` on the restored instance
finals_verified           final PDFs that `flask verify` calls genuine on the restored instance
outstanding_link_status   the waiting agreement's signing link, opened on the restored instance
api_token_status          GET /api/agreements/<id> with the old instance's API token
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import migrated_app, official  # noqa: E402
from sqlalchemy import select  # noqa: E402

from service import audit, create_app  # noqa: E402
from service.models import FinalDocument  # noqa: E402
from service.records import verification  # noqa: E402
from tests.helpers import assemble_final, bearer, confirm, create_and_send, path_of  # noqa: E402


def completed(app, client, token, data, n) -> list[int]:
    ids = []
    for i in range(n):
        agreement_id, links = create_and_send(client, token, data)
        for link, place in zip(links, ("Kristianstad", "Malmö"), strict=True):
            assert confirm(client, link["url"], place).status_code == 200
        assemble_final(app, agreement_id)
        ids.append(agreement_id)
        print(f"agreement {i + 1}/{n}", file=sys.stderr)
    return ids


def restored_checks(app, finals, link, agreement_id, token) -> dict:
    client = app.test_client()
    with app.extensions["db"].session() as session:
        audit_ok = audit.verify_chain(session) is None
        genuine = sum(verification.verify_pdf(session, app.extensions["seal"], pdf).ok for pdf in finals)
    return {
        "audit_ok": audit_ok,
        "finals_verified": genuine,
        "outstanding_link_status": client.get(path_of(link)).status_code,
        "api_token_status": client.get(f"/api/agreements/{agreement_id}", headers=bearer(token)).status_code,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=100)
    args = parser.parse_args()
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(Path(tmp) / "instance")
        office = app.extensions["office"]
        office.start()
        try:
            _, _, token = official(app.extensions["db"])
            client = app.test_client()
            start = time.perf_counter()
            completed(app, client, token, data, args.agreements)
            build_s = time.perf_counter() - start
            waiting_id, links = create_and_send(client, token, data)
            with app.extensions["db"].session() as session:
                digests = session.scalars(select(FinalDocument.sha256)).all()
            finals = [app.extensions["files"].get(d) for d in digests]
            runner = app.test_cli_runner()
            start = time.perf_counter()
            result = runner.invoke(args=["backup", f"{tmp}/backup"])
            backup_s = time.perf_counter() - start
            assert result.exit_code == 0, result.output
            backup_mb = sum(p.stat().st_size for p in Path(f"{tmp}/backup").rglob("*") if p.is_file()) / 1024**2

            os.environ["AVTAL_INSTANCE"] = f"{tmp}/restored"
            os.environ["AVTAL_DATABASE_URL"] = f"sqlite:///{tmp}/restored/avtal.sqlite3"
            empty = create_app(office=office)
            start = time.perf_counter()
            result = empty.test_cli_runner().invoke(args=["restore", f"{tmp}/backup"])
            restore_s = time.perf_counter() - start
            assert result.exit_code == 0, result.output
            empty.extensions["jobs"].close()
            restored = create_app(office=office)  # the restart the restore asks for
            checks = restored_checks(restored, finals, links[0]["url"], waiting_id, token)
            restored.extensions["jobs"].close()
        finally:
            office.stop()
    print(
        json.dumps(
            {
                "agreements": args.agreements,
                "final_pdfs": len(finals),
                "build_s": round(build_s, 1),
                "backup_mb": round(backup_mb, 1),
                "backup_s": round(backup_s, 2),
                "restore_s": round(restore_s, 2),
                **checks,
            }
        )
    )


if __name__ == "__main__":
    main()
