"""The archive package (E-ARK SIP 2.1.0 / FGS Paketstruktur 2.0): checked with eark-validator
and against the METS and PREMIS XML Schemas, and read back as an archivist would."""

import csv
import fcntl
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, update

from service import audit, party_register
from service.models import AccessionRecord, AuditEvent, FinalDocument, Version
from service.records import archive_package

from .helpers import (
    ROOT,
    bearer,
    complete_iop,
    confirm,
    count,
    login,
    org_number,
    send_and_confirm,
    swedish_today,
    wait_for,
    wait_for_finals,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


EARK_VENV = ROOT / ".venv-eark"
EARK_VALIDATOR = "eark-validator==1.1.3"
SCHEMAS = Path(archive_package.__file__).parent / "archive_schemas"
# eark-validator 1.1.3's severities are "Error", "Warn" and "Info".
# Its SIP14 is a validator defect. The rule (E-ARK SIP 2.1.0, "Classification of the archival creator
# agent additional information"): "The archival creator agent note is typed with the value of
# IDENTIFICATIONCODE", METS XPath metsHdr/agent/note/@csip:NOTETYPE; the archival creator agent is the
# one with ROLE="ARCHIVIST" (the profile's metsHdrAgentExample1). The validator's schematron instead
# asserts `@NOTETYPE = 'IDENTIFICATIONCODE'` on every mets:agent[@ROLE = 'CREATOR']/mets:note: the
# wrong agent (CSIP10-16 require the software agent to be a CREATOR whose note has
# csip:NOTETYPE="SOFTWARE VERSION"; SIP15-20 the submitting agent, a CREATOR too) and the attribute
# without its csip: namespace, which no note valid against the METS schema can carry. So it fires on
# every CREATOR note of a correct package, and on nothing else: that, exactly, is what is accepted.
# (The same schematron holds every CREATOR agent to CSIP12-16, the software agent's rules, so the
# submitting agent of SIP15-20 is ROLE="OTHER" OTHERROLE="SUBMITTER", as FGS names it.)


@pytest.fixture(scope="session")
def eark_python():
    """eark-validator in a virtual environment of its own (it pins its own lxml), made once and kept.
    Under a lock: the run's worker processes (pytest -n) may each come here first at once."""
    python = EARK_VENV / "bin" / "python"
    with open(f"{EARK_VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        imports = python.exists() and subprocess.run([python, "-c", "import eark_validator"], capture_output=True)
        if not imports or imports.returncode:
            subprocess.run([sys.executable, "-m", "venv", "--clear", EARK_VENV], check=True)
            subprocess.run([python, "-m", "pip", "install", "-q", EARK_VALIDATOR], check=True)
    return python


def eark_report(eark_python, package_dir) -> dict:
    run = subprocess.run(
        [eark_python, ROOT / "tests" / "eark_validate.py", package_dir], capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout)


class LocalSchemas(etree.Resolver):
    """Imports of the official schemas by URL, answered from the copies we ship."""

    def resolve(self, url, pubid, context):
        return self.resolve_filename(str(SCHEMAS / url.rsplit("/", 1)[1]), context)


def schema(name) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


@pytest.fixture
def exported(app, client, api_token, iop_data, run_jobs, tmp_path):
    """A completed IOP agreement's package, written and unpacked as the archive authority would."""
    agreement_id = complete_iop(app, client, api_token, iop_data)
    package = archive_package.export_agreement(
        app.extensions["db"],
        app.extensions["files"],
        agreement_id,
        archive_package.audit.Actor("user:arkiv@example.se"),
    )
    path = archive_package.write_package(package, tmp_path / "ut")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "uppackat")
    return {"id": agreement_id, "package": package, "path": path, "root": tmp_path / "uppackat" / package.name}


def test_package_is_a_valid_eark_sip(exported, eark_python):
    report = eark_report(eark_python, exported["root"])
    assert report["structure"]["status"] == "WellFormed", report["structure"]
    assert report["metadata"]["schema_results"]["status"] == "VALID", report["metadata"]["schema_results"]
    messages = report["structure"]["messages"] + report["metadata"]["schematron_results"]["messages"]
    assert {m["severity"] for m in messages} <= {"Error", "Warn", "Info"}, messages  # no severity unseen
    assert [m for m in messages if m["severity"] == "Warn"] == []
    errors = [m for m in messages if m["severity"] == "Error"]
    assert {m["rule_id"] for m in errors} <= {"SIP14"}, errors

    header = etree.parse(str(exported["root"] / "METS.xml")).find("mets:metsHdr", archive_package.METS_NS)
    notetype = f"{{{archive_package.CSIP}}}NOTETYPE"
    creator_notes = header.findall("mets:agent[@ROLE='CREATOR']/mets:note", archive_package.METS_NS)
    assert len(errors) == len(creator_notes) and all(n.get(notetype) for n in creator_notes)
    # What SIP14 really asks, and SIP15-20 (one submitting organisation), checked here instead.
    (archival_creator,) = header.findall("mets:agent[@ROLE='ARCHIVIST']", archive_package.METS_NS)
    assert archival_creator.find("mets:note", archive_package.METS_NS).get(notetype) == "IDENTIFICATIONCODE"
    (submitting,) = header.findall("mets:agent[@OTHERROLE='SUBMITTER'][@TYPE='ORGANIZATION']", archive_package.METS_NS)
    assert submitting.find("mets:note", archive_package.METS_NS).get(notetype) == "IDENTIFICATIONCODE"


def test_package_matches_the_mets_and_premis_schemas(exported):
    root = exported["root"]
    mets = schema("mets.xsd")
    for path in (root / "METS.xml", root / "representations" / "rep1" / "METS.xml"):
        assert mets.validate(etree.parse(str(path))), mets.error_log
    premis = schema("premis.xsd")
    assert premis.validate(etree.parse(str(root / "metadata" / "preservation" / "premis.xml"))), premis.error_log
    shipped = sorted(p.name for p in (root / "schemas").iterdir())
    assert shipped == sorted([*archive_package.SCHEMAS, archive_package.CASE_SCHEMA])


def test_package_holds_the_sealed_pdfs_the_trail_and_what_registration_needs(app, exported):
    root, data = exported["root"], exported["root"] / "representations" / "rep1" / "data"
    files = app.extensions["files"]
    with app.extensions["db"].session() as session:
        final = session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == exported["id"])).one()
        version = session.scalars(select(Version).where(Version.agreement_id == exported["id"])).one()
        stem = f"avtal-{exported['id']}-RS-2020-2741"  # file names carry the diarienummer
        assert (data / f"{stem}-slutlig-1.pdf").read_bytes() == files.get(final.sha256)
        assert (data / f"{stem}-version-1.pdf").read_bytes() == files.get(version.pdf_sha256)
    trail = json.loads((data / f"{stem}-granskningslogg.json").read_text(encoding="utf-8"))
    assert [e["event"] for e in trail["events"]][:1] == ["created"] and "final_assembled" in [
        e["event"] for e in trail["events"]
    ]
    rows = list(
        csv.reader(io.StringIO((data / f"{stem}-granskningslogg.csv").read_text(encoding="utf-8-sig")), delimiter=";")
    )
    assert len(rows) == len(trail["events"]) + 1

    dc = (root / "metadata" / "descriptive" / "dc.xml").read_text(encoding="utf-8")
    for text in ("Diarienummer RS 2020/2741", "Region Skåne (232100-0255)", "Status: Klart", "Hållbart Skåne"):
        assert text.casefold() in dc.casefold(), text
    assert "<dc:date>20" in dc

    mets = etree.parse(str(root / "representations" / "rep1" / "METS.xml"))
    ns = {"mets": archive_package.METS, "xlink": archive_package.XLINK}
    for entry in mets.iterfind(".//mets:file", ns):
        href = entry.find("mets:FLocat", ns).get(f"{{{archive_package.XLINK}}}href")
        content = (root / "representations" / "rep1" / href).read_bytes()
        assert entry.get("CHECKSUM") == hashlib.sha256(content).hexdigest() and entry.get("SIZE") == str(len(content))

    premis = etree.parse(str(root / "metadata" / "preservation" / "premis.xml"))
    pns = {"p": archive_package.PREMIS}
    digests = {
        o.findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=pns): o.findtext(
            "p:objectCharacteristics/p:fixity/p:messageDigest", namespaces=pns
        )
        for o in premis.iterfind("p:object", pns)
    }
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in ("METS.xml", "metadata/preservation/premis.xml"):
            assert digests[relative] == hashlib.sha256(path.read_bytes()).hexdigest(), relative
    types = [e.text for e in premis.iterfind("p:event/p:eventType", pns)]
    assert {"creation", "confirmation", "digital signature generation", "transfer"} <= set(types)
    assert types.count("confirmation") == 2


def verify_trail(root, trail) -> subprocess.CompletedProcess:
    """The documented command, run in the unpacked package with nothing of the service importable."""
    command = [sys.executable, "-I", f"documentation/{archive_package.VERIFIER}", trail]
    return subprocess.run(command, cwd=root, capture_output=True, text=True)


def test_the_trail_verifies_from_the_package_alone(app, exported):
    root = exported["root"]
    note = (root / "documentation" / "om-paketet.txt").read_text(encoding="utf-8")
    relative = f"representations/rep1/data/avtal-{exported['id']}-RS-2020-2741-granskningslogg.json"
    assert f"python3 documentation/{archive_package.VERIFIER} {relative}" in note
    path = root / relative
    trail = json.loads(path.read_text(encoding="utf-8"))
    with app.extensions["db"].session() as session:  # every event of the agreement at export, none left out
        stored = session.scalars(select(AuditEvent.id).where(AuditEvent.agreement_id == exported["id"])).all()
    assert [e["id"] for e in trail["events"]] == stored[: len(trail["events"])] and len(stored) == len(
        trail["events"]
    ) + 1
    assert f"Sista händelsens hash: {trail['events'][-1]['hash']}" in note
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+0[12]:00", e["created_at"]) for e in trail["events"])

    run = verify_trail(root, relative)
    assert run.returncode == 0 and f"OK: {len(trail['events'])} händelser" in run.stdout, run.stdout + run.stderr

    changed = json.loads(json.dumps(trail))
    changed["events"][2]["details"]["version"] = 7
    path.write_text(json.dumps(changed), encoding="utf-8")
    run = verify_trail(root, relative)
    assert run.returncode == 1 and f"Händelse {trail['events'][2]['id']}: innehållet stämmer inte" in run.stdout

    removed = json.loads(json.dumps(trail))
    del removed["events"][3]
    path.write_text(json.dumps(removed), encoding="utf-8")
    run = verify_trail(root, relative)
    assert run.returncode == 1 and f"Händelse {trail['events'][4]['id']}: länken till föregående" in run.stdout


def test_each_export_is_recorded_with_the_package_sha256_also_written_beside_it(app, exported):
    package = exported["package"]
    assert hashlib.sha256(exported["path"].read_bytes()).hexdigest() == package.sha256
    sidecar = exported["path"].with_name(exported["path"].name + ".sha256").read_text(encoding="ascii")
    assert sidecar == f"{package.sha256}  {exported['path'].name}\n"
    with app.extensions["db"].session() as session:
        recorded = session.scalars(select(AuditEvent).where(AuditEvent.event == "exported")).one()
        assert recorded.agreement_id == exported["id"] and recorded.details["sha256"] == package.sha256
        assert recorded.actor == "user:arkiv@example.se"


def test_export_command_writes_one_package_per_agreement_completed_in_the_period(
    app, client, api_token, iop_data, run_jobs, runner, tmp_path
):
    agreement_id = complete_iop(app, client, api_token, iop_data)
    draft = client.post("/api/agreements", json=iop_data, headers={"Authorization": f"Bearer {api_token}"}).json["id"]
    today = swedish_today().isoformat()

    result = runner.invoke(args=["export", "--from", today, "--to", today, "--output", str(tmp_path / "ut")])
    assert result.exit_code == 0, result.output
    assert f"Avtal {agreement_id}:" in result.output and f"Avtal {draft}:" not in result.output
    assert "1 arkivpaket skrevs" in result.output
    assert len(list((tmp_path / "ut").glob("*.zip"))) == 1 and len(list((tmp_path / "ut").glob("*.zip.sha256"))) == 1

    earlier = runner.invoke(
        args=["export", "--from", "2020-01-01", "--to", "2020-12-31", "--output", str(tmp_path / "tomt")]
    )
    assert earlier.exit_code == 0 and "0 arkivpaket skrevs" in earlier.output

    wrong = runner.invoke(args=["export", "--from", "1 jan", "--to", today, "--output", str(tmp_path / "x")])
    assert wrong.exit_code == 1 and "Ange datumen som ÅÅÅÅ-MM-DD" in wrong.output

    (tmp_path / "en-fil").write_text("")
    blocked = runner.invoke(args=["export", "--from", today, "--to", today, "--output", str(tmp_path / "en-fil")])
    assert blocked.exit_code == 1 and "kunde inte skapas" in blocked.output
    with app.extensions["db"].session() as session:  # nothing recorded for an export that was not written
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.event == "exported")).all()) == 1


@pytest.mark.parametrize(
    "made_utc, swedish_day",
    [(datetime(2021, 3, 8, 23, 30), date(2021, 3, 9)), (datetime(2021, 6, 30, 22, 30), date(2021, 7, 1))],
)
def test_a_period_is_read_in_swedish_time(app, client, api_token, iop_data, run_jobs, made_utc, swedish_day):
    """A final PDF made half an hour after midnight in Sweden belongs to that Swedish day, in winter and summer."""
    agreement_id = complete_iop(app, client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        session.execute(update(FinalDocument).values(created_at=made_utc))
    with app.extensions["db"].session() as session:
        assert archive_package.completed_between(session, swedish_day, swedish_day) == [agreement_id]
        assert archive_package.completed_between(session, made_utc.date(), made_utc.date()) == []


def test_archivist_downloads_the_package_from_the_agreement_page(app, client, api_token, iop_data, run_jobs, make_user):

    agreement_id = complete_iop(app, client, api_token, iop_data)
    user, password = make_user("archivist")
    archivist = app.test_client()
    login(archivist, user.email, password)
    page = archivist.get(f"/arkiv/{agreement_id}").get_data(as_text=True)
    assert f'href="/arkiv/{agreement_id}/arkivpaket.zip"' in page

    response = archivist.get(f"/arkiv/{agreement_id}/arkivpaket.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
    assert any(n.endswith("/METS.xml") and n.count("/") == 1 for n in names)
    with app.extensions["db"].session() as session:
        recorded = session.scalars(select(AuditEvent).where(AuditEvent.event == "exported")).one()
        assert recorded.details["sha256"] == hashlib.sha256(response.data).hexdigest()
        assert recorded.actor == f"user:{user.email}"


def test_archivist_downloads_the_packages_of_a_period(app, client, api_token, iop_data, run_jobs, make_user):

    agreement_id = complete_iop(app, client, api_token, iop_data)
    user, password = make_user("archivist")
    archivist = app.test_client()
    login(archivist, user.email, password)
    assert 'action="/arkiv/arkivpaket.zip"' in archivist.get("/arkiv").get_data(as_text=True)

    today = swedish_today().isoformat()
    response = archivist.get("/arkiv/arkivpaket.zip", query_string={"fran": today, "till": today})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        (package_name,) = [n for n in bundle.namelist() if n.endswith(".zip")]
        package = bundle.read(package_name)
        line = bundle.read(package_name + ".sha256").decode("ascii")
    assert line == f"{hashlib.sha256(package).hexdigest()}  {package_name}\n"
    with app.extensions["db"].session() as session:
        recorded = session.scalars(select(AuditEvent).where(AuditEvent.event == "exported")).one()
        assert recorded.agreement_id == agreement_id and recorded.details["sha256"] in line

    wrong = archivist.get("/arkiv/arkivpaket.zip", query_string={"fran": "igår", "till": today})
    assert wrong.status_code == 400 and "ÅÅÅÅ-MM-DD" in wrong.get_data(as_text=True)
    empty = archivist.get("/arkiv/arkivpaket.zip", query_string={"fran": "2020-01-01", "till": "2020-12-31"})
    assert empty.status_code == 404
    assert "Inga avtal blev klara från 2020-01-01 till och med 2020-12-31." in empty.get_data(as_text=True)
    backwards = archivist.get("/arkiv/arkivpaket.zip", query_string={"fran": today, "till": "2020-12-31"})
    assert backwards.status_code == 400 and "Slutdatumet kan inte vara före startdatumet." in backwards.get_data(
        as_text=True
    )


def test_an_open_agreement_package_holds_every_accession_record_and_the_latest_register(
    app, client, api_token, halland_data, run_jobs, tmp_path, eark_python
):
    agreement_id, _ = send_and_confirm(client, api_token, halland_data)
    wait_for_finals(app, agreement_id)
    newcomer = dict(halland_data["parties"][1], name="Nya Föreningen i Varberg", org_number=org_number("802479456"))
    added = client.post(f"/api/agreements/{agreement_id}/parties", json=newcomer, headers=bearer(api_token))
    assert confirm(client, added.json["links"][0]["url"], "Varberg").status_code == 200
    wait_for(lambda: count(app, AccessionRecord, AccessionRecord.agreement_id == agreement_id) == 1)
    x = app.extensions
    register = party_register.make(x["db"], x["files"], x["office"], x["seal"], agreement_id, audit.SYSTEM)

    package = archive_package.export_agreement(x["db"], x["files"], agreement_id, audit.Actor("user:arkiv@example.se"))
    path = archive_package.write_package(package, tmp_path / "ut")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "uppackat")
    root = tmp_path / "uppackat" / package.name
    data = root / "representations" / "rep1" / "data"
    with x["db"].session() as session:
        record = session.scalars(select(AccessionRecord).where(AccessionRecord.agreement_id == agreement_id)).one()
    stem = f"avtal-{agreement_id}-RH-2019-0412"
    assert (data / f"{stem}-anslutning-1.pdf").read_bytes() == x["files"].get(record.sha256)
    for ending in ("pdf", "csv", "xlsx"):
        assert (data / f"{stem}-forteckning-1.{ending}").exists()
    assert (data / f"{stem}-forteckning-1.pdf").read_bytes() == x["files"].get(register.pdf_sha256)
    case = json.loads((root / "metadata" / "descriptive" / "arende.json").read_text(encoding="utf-8"))
    kinds = {d["handlingstyp"] for d in case["arende"]["handlingar"]}
    assert {"Anslutning (en organisation som anslutit sig)", "Förteckning över undertecknande organisationer"} <= kinds
    report = eark_report(eark_python, root)
    assert report["structure"]["status"] == "WellFormed", report["structure"]
    assert report["metadata"]["schema_results"]["status"] == "VALID", report["metadata"]["schema_results"]
    messages = report["structure"]["messages"] + report["metadata"]["schematron_results"]["messages"]
    assert {m["rule_id"] for m in messages if m["severity"] in ("Error", "Warn")} <= {"SIP14"}, messages
