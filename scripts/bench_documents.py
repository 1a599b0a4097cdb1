"""Final PDFs of both examples and of överenskommelser with many parties (--parties 200 1000).

Each agreement is drafted, frozen, opened and confirmed by every party, then its final PDF
is assembled (the signing sheet and appendix filled and converted, composed after the frozen
pages, the frozen file attached). Prints page counts, sizes and the median time to assemble
each final; with --out the PDFs are written there (e.g. test-artifacts/finals).

final_<name>_ms     building the final PDF (the background job's work but sealing and storing), median of --runs
pages_<name>        pages of the final PDF; frozen_pages_<name> pages of the frozen agreement
final_<name>_bytes  size of the final PDF (unsealed)
"""

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import drafting_official, migrated_app, org_number  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from service import agreements, final, signing  # noqa: E402
from service.audit import Actor  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402
from service.models import Agreement  # noqa: E402

EXAMPLES = ROOT / "scripts" / "examples"
OFFICIAL = Actor("user:bench@example.se")
PLACES = ["Halmstad", "Varberg", "Falkenberg", "Kungsbacka", "Laholm", "Hylte"]


@dataclass
class Client:
    ip: str = "192.0.2.10"
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def many_parties(data, count):
    first = data["parties"][0]
    others = [
        dict(
            data["parties"][1],
            name=f"Förening nummer {i} i Halland",
            org_number=org_number(f"80{i:07d}"),
            contact_email=f"forening{i}@example.se",
            representative={"name": f"Ordförande Nummer {i}", "title": "Ordförande"},
        )
        for i in range(1, count)
    ]
    return dict(data, parties=[first, *others])


def completed(app, data):
    """Draft, send, open and confirm every link; returns (agreement id, frozen PDF)."""
    db, files, office, sealer = (app.extensions[name] for name in ("db", "files", "office", "seal"))
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with db.session() as session:
        user = drafting_official(session)
        agreement_id = agreements.create_draft(session, files, data, user, OFFICIAL).id
    _, issued = agreements.send_for_signature(db, files, office, sealer, serializer, agreement_id, 30, user, OFFICIAL)
    tokens = [link.token for link in issued]
    for i, token in enumerate(tokens):
        with db.session() as session:
            signing.open_link(session, serializer, token, Client())
            party = data["parties"][i]["representative"]
            signing.confirm(
                session, serializer, token, party["name"], party["title"], PLACES[i % 6], Client(), max_age_days=30
            )
    with db.session() as session:
        frozen = files.get(signing.latest_version(session, agreement_id).pdf_sha256)
    return agreement_id, frozen


def build_timed(app, agreement_id):
    """The final PDF as the background job builds it, neither sealed nor stored."""
    with app.extensions["db"].session() as session:
        facts = final.gather(session, session.get(Agreement, agreement_id))
    start = time.perf_counter()
    pdf = final.build_final_pdf(facts, app.extensions["files"], app.extensions["office"])
    return (time.perf_counter() - start) * 1000, pdf


def pages(pdf):
    return len(PdfReader(io.BytesIO(pdf)).pages)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parties", type=int, nargs="+", default=[200])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    iop = json.loads((EXAMPLES / "iop-skane-2021.json").read_text(encoding="utf-8"))
    halland = json.loads((EXAMPLES / "overenskommelse-halland.json").read_text(encoding="utf-8"))
    cases = {"iop": iop, "halland": halland} | {f"halland{n}": many_parties(halland, n) for n in args.parties}
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1, timeout=300)
        office.start()
        try:
            app = migrated_app(Path(tmp) / "instance", {"TESTING": True}, office)
            for name, data in cases.items():
                agreement_id, frozen = completed(app, data)
                samples = []
                for _ in range(args.runs):
                    elapsed, pdf = build_timed(app, agreement_id)
                    samples.append(elapsed)
                    print(f"{name}: {elapsed:.0f} ms, {pages(pdf)} pages", file=sys.stderr)
                result[f"final_{name}_ms"] = round(statistics.median(samples))
                result[f"pages_{name}"] = pages(pdf)
                result[f"final_{name}_bytes"] = len(pdf)
                result[f"frozen_pages_{name}"] = pages(frozen)
                if args.out:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"final-{name}.pdf").write_bytes(pdf)
                    (args.out / f"frozen-{name}.pdf").write_bytes(frozen)
        finally:
            office.stop()
    result["runs"] = args.runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
