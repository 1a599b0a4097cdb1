"""What building the API's answers through pydantic models costs, measured side by side in one run.

Seeds one open överenskommelse with N parties (default 30 000, Skåne's size), sent, each
with a link and every other one confirmed, into a fresh SQLite database, then times (median
of --runs):

show_ms     GET /api/agreements/<id> through the app: load the parties and answers, build, serialise
models_ms   the answer's body alone, built through the pydantic models (api_schema) as the view does
dicts_ms    the same body built as plain dicts, as the view did before the models
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_lists import org_number  # noqa: E402
from benchlib import medians, migrated_app, official  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from service import listing, signing  # noqa: E402
from service.formatting import local_time  # noqa: E402
from service.models import Agreement, Confirmation, Party, SigningLink, Version, utcnow  # noqa: E402
from service.web import api  # noqa: E402


def seed(db, count):
    now = utcnow()
    parties = [{"name": f"Föreningen Ängen {i}", "org_number": org_number(i)} for i in range(count)]
    data = {"kind": "overenskommelse", "title": "Överenskommelse för Skåne", "parties": parties}
    with db.session() as session:
        session.execute(
            insert(Agreement),
            [
                {
                    "id": 1,
                    "kind": "overenskommelse",
                    "title": data["title"],
                    "registration_number": "RS 2020/1",
                    "status": "sent",
                    "data": data,
                    "data_sha256": "0" * 64,
                    "created_at": now,
                    "updated_at": now,
                    **listing.index_columns(data),
                }
            ],
        )
        session.execute(
            insert(Version), [{"id": 1, "agreement_id": 1, "number": 1, "data": data, "pdf_sha256": "0" * 64}]
        )
        rows = [{"id": i + 1, "agreement_id": 1, "position": i, "joined_at": now, **p} for i, p in enumerate(parties)]
        session.execute(insert(Party), rows)
        links = [
            {"id": i + 1, "party_id": i + 1, "version_id": 1, "nonce_sha256": "0" * 64, "expires_at": now}
            for i in range(count)
        ]
        session.execute(insert(SigningLink), links)
        answers = [
            {
                "link_id": i + 1,
                "party_id": i + 1,
                "version_id": 1,
                "decision": "confirmed",
                "signer_name": "Anna Andersson",
                "signer_title": "Ordförande",
                "place": "Malmö",
                "created_at": now,
            }
            for i in range(0, count, 2)
        ]
        session.execute(insert(Confirmation), answers)


def party_dict(standing) -> dict:
    """The view's per-party entry as it was written before the models."""
    party, answer = standing.party, standing.answer
    entry = {"party": party.name, "org_number": party.org_number, "status": standing.status, "confirmation": None}
    if answer is not None:
        entry["confirmation"] = {
            "name": answer.signer_name,
            "title": answer.signer_title,
            "place": answer.place,
            "date": local_time(answer.created_at).date().isoformat(),
            "time": local_time(answer.created_at).isoformat(timespec="seconds"),
            "reason": answer.reason or None,
        }
    return entry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(tmp)
        db = app.extensions["db"]
        _, _, token = official(db)
        started = time.perf_counter()
        seed(db, args.parties)
        print(f"seeded {args.parties} parties in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        served = client.get("/api/agreements/1", headers=headers).json
        assert len(served["parties"]) == args.parties and served["parties"][0]["confirmation"]["place"] == "Malmö"
        with db.session() as session:
            standings = signing.party_statuses(session, session.get(Agreement, 1))
            session.expunge_all()  # kept loaded, and no read transaction left open beside the app's
        assert [api._party_entry(s).model_dump(mode="json") for s in standings] == served["parties"]
        assert [party_dict(s) for s in standings] == served["parties"]  # the same JSON either way

        def show():
            assert client.get("/api/agreements/1", headers=headers).status_code == 200

        probes = {
            "show_ms": show,
            "models_ms": lambda: [api._party_entry(s).model_dump(mode="json") for s in standings],
            "dicts_ms": lambda: [party_dict(s) for s in standings],
        }
        result = medians(probes, args.runs)
    result["parties"] = args.parties
    result["runs"] = args.runs
    result["models_share_of_show"] = round((result["models_ms"] - result["dicts_ms"]) / result["show_ms"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
