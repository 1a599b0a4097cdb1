"""List pages with many agreements in the database, measured side by side in one run.

Seeds N agreements (default 10 000; half sent with three parties, links and some
confirmations) into a fresh SQLite database, then times, through the app's own pages
and API (median of --runs):

page_ms          the officials' list, first page (50 rows, progress counted in the query)
search_ms        the same list searching "natverket skane" (folded: finds NÄTVERKET … Skåne)
deep_page_ms     the list sorted by title, 100 pages in (a keyset cursor, not an offset)
archive_ms       the archive searching a diarienummer written without its space
api_org_ms       GET /api/agreements filtered by an organisation number without its dash
load_all_ms      what the list did before: every agreement loaded, progress counted one by one
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import medians, migrated_app, official, org_number  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from service import listing  # noqa: E402
from service.models import Agreement, Confirmation, Party, SigningLink, Version, utcnow  # noqa: E402

PLACES = ["Skåne", "Halland", "Blekinge", "Kronoberg", "Örebro", "Västra Götaland", "Jämtland", "Gävleborg"]


def seed(db, count, user_id):
    """`count` agreements written in bulk, with the columns the app derives on save."""
    now = utcnow()
    with db.session() as session:
        agreements, parties, versions = [], [], []
        for i in range(count):
            place = PLACES[i % len(PLACES)]
            names = [f"Region {place}", f"NÄTVERKET – Idéburen sektor {place} {i}", f"Föreningen Ängen {i}"]
            data = {
                "kind": "iop",
                "title": f"IOP {i}: partnerskap för ett hållbart {place}",
                "registration_number": f"RS 2020/{i}",
                "parties": [
                    {"name": n, "org_number": org_number(str(100000000 + 3 * i + k))} for k, n in enumerate(names)
                ],
                "period": {"start": "2021-01-01", "end": "2025-12-31"},
            }
            agreements.append(
                {
                    "id": i + 1,
                    "kind": "iop",
                    "title": data["title"],
                    "registration_number": data["registration_number"],
                    "status": "sent" if i % 2 else "draft",
                    "data": data,
                    "data_sha256": "0" * 64,
                    "created_by_id": user_id if i % 10 == 0 else None,
                    "created_at": now - timedelta(minutes=count - i),
                    "updated_at": now - timedelta(minutes=count - i),
                    **listing.index_columns(data),
                }
            )
            for k, name in enumerate(names):
                parties.append(
                    {
                        "id": 3 * i + k + 1,
                        "agreement_id": i + 1,
                        "position": k,
                        "name": name,
                        "org_number": org_number(str(100000000 + 3 * i + k)),
                        "contact_email": "",
                        "joined_at": now,
                    }
                )
            if i % 2:
                versions.append({"id": i + 1, "agreement_id": i + 1, "number": 1, "data": data, "pdf_sha256": "0" * 64})
        session.execute(insert(Agreement), agreements)
        session.execute(insert(Party), parties)
        session.execute(insert(Version), versions)
        links, answers = [], []
        for version in versions:
            for k in range(3):
                party_id = 3 * (version["agreement_id"] - 1) + k + 1
                links.append(
                    {
                        "id": party_id,
                        "party_id": party_id,
                        "version_id": version["id"],
                        "nonce_sha256": "0" * 64,
                        "created_at": now,
                        "expires_at": now + timedelta(days=30),
                    }
                )
                if k < version["agreement_id"] % 3:
                    answers.append(
                        {
                            "link_id": party_id,
                            "party_id": party_id,
                            "version_id": version["id"],
                            "decision": "confirmed",
                            "created_at": now,
                        }
                    )
        session.execute(insert(SigningLink), links)
        session.execute(insert(Confirmation), answers)


def load_all(db):
    """The list as it was: every agreement, then each one's progress in its own query."""
    with db.session() as session:
        rows = session.scalars(select(Agreement).order_by(Agreement.updated_at.desc())).all()
        return [(a, listing.progress(session, a)) for a in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(tmp, {"WTF_CSRF_ENABLED": False})
        db = app.extensions["db"]
        user, password, token = official(db)
        started = time.perf_counter()
        seed(db, args.agreements, user.id)
        print(f"seeded {args.agreements} agreements in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        client = app.test_client()
        assert client.post("/login", data={"email": "bench@example.se", "password": password}).status_code == 302
        api = {"Authorization": f"Bearer {token}"}

        cursor = None
        for _ in range(100):
            cursor = client.get(
                "/api/agreements", query_string={"sort": "title", **({"cursor": cursor} if cursor else {})}, headers=api
            ).json["next_cursor"]

        def get(url, **kwargs):
            def run():
                response = client.get(url, **kwargs)
                assert response.status_code == 200, (url, response.status_code)

            return run

        probes = {
            "page_ms": get("/avtal"),
            "search_ms": get("/avtal?q=natverket+skane"),
            "deep_page_ms": get("/api/agreements", query_string={"sort": "title", "cursor": cursor}, headers=api),
            "archive_ms": get("/arkiv?status=&dnr=RS2020/4711"),
            "api_org_ms": get(
                "/api/agreements", query_string={"org_number": org_number(str(100004711)).replace("-", "")}, headers=api
            ),
            "load_all_ms": lambda: load_all(db),
        }
        assert "RS 2020/4711" in client.get("/arkiv?status=&dnr=RS2020/4711").get_data(as_text=True)
        assert (
            len(
                client.get(
                    "/api/agreements", query_string={"org_number": org_number(str(100004711))}, headers=api
                ).json["items"]
            )
            == 1
        )
        result = medians(probes, args.runs)
    result["agreements"] = args.agreements
    result["runs"] = args.runs
    result["load_all_over_page"] = round(result["load_all_ms"] / result["page_ms"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
