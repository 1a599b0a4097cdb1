"""Open accession at the size of a region's civil society, measured side by side in one run.

For each N of --parties (default 10 1000 30000): the Halland överenskommelse is completed by its
founding parties, then a list of N - 5 organisations is uploaded and accepted by an official, the
job joins them and emails their links (to an SMTP server on loopback that keeps only the links),
and organisations confirm through their pages. What an official and a party wait for goes
through the app's own pages (Flask's test client); the background work is run as the job runs it.

send_s                  the official's "Anslut N organisationer och skicka länkarna": the accept request
links_s                 the job joining all N and issuing and emailing their links (throughput, 25 at a time)
confirm_first_p50_ms    a confirmation by one of the first --sample organisations of the list (POST)
confirm_last_p50_ms     the same for the last --sample organisations of the list (29 995th at N=30000), and p99
add_party_ms            the last 5 organisations joining one at a time through the API (median; the 30 000th at N=30000)
page_ms                 the official's agreement page (the joined a page at a time)
accession_record_s      from the last confirmation to its sealed record stored (the record job)
register_s              the sealed register PDF with its CSV and XLSX, every organisation confirmed
                        (those beyond the sample are confirmed in bulk through the database, with records
                        that name one sample record's file)
register_pages          pages of the register PDF
peak_rss_mb             this process's peak resident memory so far (LibreOffice runs in its own)
bytes_per_accession     database growth per organisation joined and confirmed, plus one record PDF
"""

import argparse
import io
import json
import re
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from benchlib import migrated_app, official, org_number  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from service import accession, accession_records, audit, party_register  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402
from service.models import (  # noqa: E402
    AccessionRecord,
    Confirmation,
    Party,
    SigningLink,
    utcnow,
)

EXAMPLES = ROOT / "scripts" / "examples"
ONE_BY_ONE = 5  # of the N organisations, those that join through the API one at a time (add_party_ms)
LINK = re.compile(rb"(/sign/[A-Za-z0-9_.\-]+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Links:
    """An aiosmtpd handler keeping only each recipient's signing link."""

    def __init__(self):
        self.by_address: dict[str, str] = {}

    async def handle_DATA(self, server, session, envelope):
        found = LINK.search(envelope.content.replace(b"=\r\n", b""))
        if found:
            for address in envelope.rcpt_tos:
                self.by_address[address] = found.group(1).decode()
        return "250 OK"


def address(run, i) -> str:
    return f"kansli{i}@forening{run}.example.se"


def list_csv(run, n) -> bytes:
    rows = ["Namn;Organisationsnummer;E-post;Firmatecknare;Titel"]
    rows += [
        f"Förening {i} i Halland;{org_number(f'5{run * 100_000 + i:08d}')};{address(run, i)};Ombud {i};Ordförande"
        for i in range(n)
    ]
    return "\n".join(rows).encode("utf-8")


def token_of(html: str) -> str:
    return CSRF.search(html).group(1)


def log_in(client, email, password):
    token = token_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"csrf_token": token, "email": email, "password": password}).status_code == 302


def completed_halland(app, client, api_token):
    data = json.loads((EXAMPLES / "overenskommelse-halland.json").read_text(encoding="utf-8"))
    headers = {"Authorization": f"Bearer {api_token}"}
    agreement_id = client.post("/api/agreements", json=data, headers=headers).json["id"]
    links = client.post(f"/api/agreements/{agreement_id}/send", headers=headers).json["links"]
    for link in links:
        confirm(client, link["url"][link["url"].index("/sign/") :], "Halmstad")
    return agreement_id


def confirm(client, path, place) -> float:
    """A party's confirmation through its page: the POST's milliseconds."""
    form = {
        "csrf_token": token_of(client.get(path).get_data(as_text=True)),
        "signer_name": "Anna Andersson",
        "signer_title": "Ordförande",
        "place": place,
        "accept": "ja",
    }
    start = time.perf_counter()
    response = client.post(path + "/bekrafta", data=form)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.status_code
    return elapsed


def percentile(values, share) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def confirm_the_rest(app, agreement_id, record_sha256):
    """Every organisation not yet confirmed confirms, written in bulk, each with a record row
    naming one real record's file: the register then holds every organisation."""
    db = app.extensions["db"]
    with db.session() as session:
        rows = session.execute(
            select(Party.id, SigningLink.id, SigningLink.version_id)
            .join(SigningLink, SigningLink.party_id == Party.id)
            .outerjoin(Confirmation, Confirmation.party_id == Party.id)
            .where(Party.agreement_id == agreement_id, Party.acceded.is_(True), Confirmation.id.is_(None))
        ).all()
        now = utcnow()
        session.execute(
            insert(Confirmation),
            [
                {
                    "link_id": link_id,
                    "party_id": party_id,
                    "version_id": version_id,
                    "decision": "confirmed",
                    "signer_name": "Anna Andersson",
                    "signer_title": "Ordförande",
                    "place": "Varberg",
                    "created_at": now,
                }
                for party_id, link_id, version_id in rows
            ],
        )
        session.execute(update(SigningLink).where(SigningLink.id.in_([r[1] for r in rows])).values(used_at=now))
        confirmations = session.execute(
            select(Confirmation.id, Confirmation.party_id, Confirmation.version_id)
            .outerjoin(AccessionRecord, AccessionRecord.confirmation_id == Confirmation.id)
            .join(Party, Party.id == Confirmation.party_id)
            .where(Party.agreement_id == agreement_id, Party.acceded.is_(True), AccessionRecord.id.is_(None))
            .order_by(Confirmation.id)
        ).all()
        first = session.scalar(
            select(AccessionRecord.number)
            .where(AccessionRecord.agreement_id == agreement_id)
            .order_by(AccessionRecord.number.desc())
        )
        session.execute(
            insert(AccessionRecord),
            [
                {
                    "agreement_id": agreement_id,
                    "number": (first or 0) + i + 1,
                    "party_id": party_id,
                    "confirmation_id": confirmation_id,
                    "version_id": version_id,
                    "sha256": record_sha256,
                    "created_at": now,
                }
                for i, (confirmation_id, party_id, version_id) in enumerate(confirmations)
            ],
        )


def database_bytes(app) -> int:
    """The database file's size with its write-ahead log folded in."""
    connection = app.extensions["db"].engine.raw_connection()
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).stat().st_size


def run_one(app, client, api_token, inbox, run, n, sample) -> dict:
    x = app.extensions
    agreement_id = completed_halland(app, client, api_token)
    size_before = database_bytes(app)
    upload_url = f"/avtal/{agreement_id}/anslut-lista"
    token = token_of(client.get(upload_url).get_data(as_text=True))
    listed = n - ONE_BY_ONE  # the last organisations join one at a time, through the API
    uploaded = client.post(
        upload_url, data={"csrf_token": token, "file": (io.BytesIO(list_csv(run, listed)), "lista.csv")}
    )
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[-500:]
    report = client.get(uploaded.headers["Location"]).get_data(as_text=True)
    accept_url = re.search(r'action="([^"]+/anslut)"', report).group(1)
    start = time.perf_counter()
    accepted = client.post(accept_url, data={"csrf_token": token_of(report)})
    send_s = time.perf_counter() - start
    assert accepted.status_code == 302

    accession_id = int(accept_url.rstrip("/").split("/")[-2])
    start = time.perf_counter()
    accession.join_and_send(app, accession_id)
    links_s = time.perf_counter() - start

    sample = min(sample, listed // 2)  # the first and the last never overlap
    first = [confirm(client, inbox.by_address[address(run, i)], "Halmstad") for i in range(sample)]
    last = [confirm(client, inbox.by_address[address(run, i)], "Varberg") for i in range(listed - sample, listed)]
    with x["db"].session() as session:
        [last_confirmation] = session.scalars(
            select(Confirmation.id)
            .join(Party, Party.id == Confirmation.party_id)
            .where(Party.agreement_id == agreement_id)
            .order_by(Confirmation.id.desc())
            .limit(1)
        ).all()
    start = time.perf_counter()
    record = accession_records.make_record(x["db"], x["files"], x["office"], x["seal"], last_confirmation)
    accession_record_s = time.perf_counter() - start
    record_bytes = len(x["files"].get(record.sha256))

    headers = {"Authorization": f"Bearer {api_token}"}
    adds = []
    for i in range(ONE_BY_ONE):
        party = {
            "name": f"Sen förening {i}",
            "org_number": org_number(f"5{run * 100_000 + 90_000 + i:08d}"),
            "kind": "idéburen",
            "contact_email": f"sen{i}@example.se",
            "representative": {"name": "Eva Ek"},
        }
        start = time.perf_counter()
        assert client.post(f"/api/agreements/{agreement_id}/parties", json=party, headers=headers).status_code == 201
        adds.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    assert client.get(f"/avtal/{agreement_id}").status_code == 200
    page_ms = (time.perf_counter() - start) * 1000

    confirm_the_rest(app, agreement_id, record.sha256)
    start = time.perf_counter()
    register = party_register.make(x["db"], x["files"], x["office"], x["seal"], agreement_id, audit.SYSTEM)
    register_s = time.perf_counter() - start
    register_pdf = x["files"].get(register.pdf_sha256)
    pages = len(PdfReader(io.BytesIO(register_pdf)).pages)
    return {
        "parties": n,
        "send_s": round(send_s, 3),
        "links_s": round(links_s, 1),
        "confirm_first_p50_ms": round(statistics.median(first), 1),
        "confirm_last_p50_ms": round(statistics.median(last), 1),
        "confirm_last_p99_ms": round(percentile(last, 0.99), 1),
        "add_party_ms": round(statistics.median(adds), 1),
        "page_ms": round(page_ms, 1),
        "accession_record_s": round(accession_record_s, 2),
        "register_s": round(register_s, 1),
        "register_rows": register.rows,
        "register_pages": pages,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bytes_per_accession": round((database_bytes(app) - size_before) / n + record_bytes),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, nargs="+", default=[10, 1000, 30_000])
    parser.add_argument("--sample", type=int, default=20, help="confirmations timed at each end of the list")
    args = parser.parse_args()
    inbox = Links()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1, timeout=300)
        office.start()
        try:
            config = {"TESTING": True, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port}
            app = migrated_app(Path(tmp) / "instance", config, office)
            user, password, api_token = official(app.extensions["db"])
            client = app.test_client()
            log_in(client, user.email, password)
            for run, n in enumerate(args.parties, start=1):
                result = run_one(app, client, api_token, inbox, run, n, args.sample)
                print(json.dumps(result), file=sys.stderr)
                results.append(result)
        finally:
            office.stop()
            smtp.stop()
    print(json.dumps({"runs": results}))


if __name__ == "__main__":
    main()
