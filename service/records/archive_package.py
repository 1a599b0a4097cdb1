"""An archive package for one agreement: E-ARK SIP 2.1.0 on CSIP 2.1.0, which is what
Riksarkivet's FGS Paketstruktur 2.0 asks for.

    <OBJID>/METS.xml                              the package: agents, metadata, files, structure
    <OBJID>/metadata/descriptive/dc.xml           what registration needs (OSL 5 kap. 2 §), Dublin Core
    <OBJID>/metadata/preservation/premis.xml      fixity of every file, events from the audit trail
    <OBJID>/representations/rep1/METS.xml         the representation's own files
    <OBJID>/representations/rep1/data/            sealed final PDFs, every frozen version, the trail (JSON, CSV)
    <OBJID>/schemas/                              METS, XLink and PREMIS schemas
    <OBJID>/documentation/om-paketet.txt          what the package holds, in Swedish

The package is delivered as one ZIP file; its SHA-256 is written beside it and recorded
in the audit trail with the export.
"""

import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib.metadata import version as installed_version
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from .. import accession_records, audit, party_register, registry, trail_check
from ..agreements import STATUS_LABELS
from ..formatting import STOCKHOLM
from ..models import Agreement, FinalDocument, utcnow
from ..schema import KIND_LABELS
from ..storage import sha256_hex
from . import fgs

SCHEMA_DIR = Path(__file__).parent / "archive_schemas"
SCHEMAS = ("mets.xsd", "xlink.xsd", "premis.xsd")
SOFTWARE = "Avtalstjänsten"

METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
PREMIS = "http://www.loc.gov/premis/v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
METS_NS = {"mets": METS, "xlink": XLINK, "csip": CSIP, "sip": SIP, "xsi": XSI}
METS_LOCATION = f"{METS} schemas/mets.xsd {XLINK} schemas/xlink.xsd"
SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
REP_PREMIS = "metadata/preservation/premis.xml"  # within the representation
CASE_FILE = "metadata/descriptive/arende.json"  # fgs.py
CASE_SCHEMA = "arende.schema.json"

CONTENT_TYPES = {"Documentation": "Dokumentation", "Schemas": "XML-scheman"}  # else "Avtal": PDF/A-2b, JSON, CSV
MIME_TYPES = {
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".py": "text/x-python",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
VERIFIER = "verifiera_granskningslogg.py"  # service/trail_check.py, shipped as it is

# Audit events that are preservation events, with their PREMIS event type.
PREMIS_EVENTS = {
    "version_frozen": "creation",
    "confirmed": "confirmation",
    "declined": "declination",
    "party_added": "accession",
    "final_assembled": "creation",
    "exported": "transfer",
}
SEALED_BY = {"version_frozen", "final_assembled"}  # each such PDF is sealed as it is made


@dataclass
class Package:
    name: str  # the OBJID, also the root folder
    filename: str  # the agreement's number and diarienummer, then the OBJID: avtal-12-RS-2020-2741_uuid-….zip
    data: bytes  # the ZIP file
    sha256: str


def _q(namespace, name):
    return etree.QName(namespace, name)


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds")


def _mime(path: str) -> str:
    return MIME_TYPES.get(Path(path).suffix, "application/xml")


def _xml(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


class _Files:
    """The files of the package, by path, with when each was made."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.created: dict[str, datetime] = {}

    def add(self, path, data, created):
        self.data[path] = data
        self.created[path] = created

    def attributes(self, path, now) -> dict:
        """What CSIP wants on every mdRef and file: size, created, checksum, MIME type."""
        return {
            "MIMETYPE": _mime(path),
            "SIZE": str(len(self.data[path])),
            "CREATED": _iso(self.created.get(path, now)),
            "CHECKSUM": sha256_hex(self.data[path]),
            "CHECKSUMTYPE": "SHA-256",
        }


def build_package(session, files, agreement: Agreement, now=None, submission_agreement="") -> Package:
    """The SIP for `agreement` as a ZIP file, built from the records, the stored files and the trail.
    `submission_agreement`: the e-archive's leveransöverenskommelse, named in the METS header."""
    now = now or utcnow()
    name = f"uuid-{uuid.uuid4()}"
    stem = registry.file_stem(agreement)
    events = audit.events_for(session, agreement.id)
    content = _Files()
    kinds = {}
    for final in agreement.final_documents:
        path = f"data/{stem}-slutlig-{final.number}.pdf"
        content.add(path, files.get(final.sha256), final.created_at)
        kinds[path] = "Slutligt avtal"
    for version in agreement.versions:
        path = f"data/{stem}-version-{version.number}.pdf"
        content.add(path, files.get(version.pdf_sha256), version.created_at)
        kinds[path] = "Låst version (det parterna bekräftade)"
    for record in accession_records.records_of(session, agreement.id):
        path = f"data/{stem}-anslutning-{record.number}.pdf"
        content.add(path, files.get(record.sha256), record.created_at)
        kinds[path] = "Anslutning (en organisation som anslutit sig)"
    if (register := party_register.latest(session, agreement.id)) is not None:
        for ending, (column, _) in party_register.FORMATS.items():
            path = f"data/{stem}-forteckning-{register.number}.{ending}"
            content.add(path, files.get(getattr(register, column)), register.created_at)
            kinds[path] = "Förteckning över undertecknande organisationer"
    for suffix in ("json", "csv"):
        kinds[f"data/{stem}-granskningslogg.{suffix}"] = "Granskningslogg"
    content.add(f"data/{stem}-granskningslogg.json", audit.trail_json(agreement, events), now)
    content.add(f"data/{stem}-granskningslogg.csv", audit.trail_csv(events), now)

    content.add(REP_PREMIS, _xml(_premis_objects(content, "../../../../schemas")), now)

    package = _Files()
    for schema in SCHEMAS:
        package.add(f"schemas/{schema}", (SCHEMA_DIR / schema).read_bytes(), now)
    package.add(f"schemas/{CASE_SCHEMA}", fgs.schema(), now)
    package.add("documentation/om-paketet.txt", _documentation(agreement, events, stem).encode("utf-8"), now)
    package.add(f"documentation/{VERIFIER}", Path(trail_check.__file__).read_bytes(), now)
    package.add("representations/rep1/METS.xml", _xml(_representation_mets(name, agreement, content, now)), now)
    for path, data in content.data.items():
        package.add(f"representations/rep1/{path}", data, content.created[path])
    process = registry.label_of(session, agreement.data.get("classification", ""))
    package.add("metadata/descriptive/dc.xml", _xml(_dublin_core(agreement, process)), now)
    documents = {f"representations/rep1/{path}": kind for path, kind in kinds.items()}
    package.add(CASE_FILE, fgs.document(_case(session, agreement, documents, package)), now)
    package.add("metadata/preservation/premis.xml", _xml(_premis(name, agreement, events, package, now)), now)
    package.add("METS.xml", _xml(_root_mets(name, agreement, package, now, submission_agreement)), now)
    data = _zip(name, package)
    return Package(name=name, filename=f"{stem}_{name}.zip", data=data, sha256=sha256_hex(data))


def _zip(name, package) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.data):
            archive.writestr(f"{name}/{path}", package.data[path])
    return out.getvalue()


def submitter(agreement) -> dict:
    """The archival creator: the agreement's first public party (the region), else its first party."""
    parties = agreement.data["parties"]
    return next((p for p in parties if p.get("kind") == "offentlig"), parties[0])


def _mets_root(name, agreement, now, submission_agreement=""):
    root = etree.Element(
        _q(METS, "mets"),
        nsmap=METS_NS,
        attrib={
            "OBJID": name,
            "LABEL": agreement.title,
            "TYPE": "Textual works – Digital",
            _q(CSIP, "CONTENTINFORMATIONTYPE"): "MIXED",
            "PROFILE": SIP_PROFILE,
            _q(XSI, "schemaLocation"): METS_LOCATION,
        },
    )
    header = etree.SubElement(
        root, _q(METS, "metsHdr"), CREATEDATE=_iso(now), LASTMODDATE=_iso(now), RECORDSTATUS="NEW"
    )
    header.set(_q(CSIP, "OAISPACKAGETYPE"), "SIP")
    software = etree.SubElement(header, _q(METS, "agent"), ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    etree.SubElement(software, _q(METS, "name")).text = SOFTWARE
    note = etree.SubElement(software, _q(METS, "note"))
    note.text = installed_version("avtalstjanst")
    note.set(_q(CSIP, "NOTETYPE"), "SOFTWARE VERSION")
    organisation = submitter(agreement)
    # SIP9-14: the archival creator (ROLE ARCHIVIST); SIP15-20: the submitting agent, which SIP 2.1.0
    # gives no fixed role: ROLE OTHER, OTHERROLE SUBMITTER as FGS has it ("levererande organisation"),
    # since eark-validator holds every CREATOR agent to the software agent's rules (CSIP12-16).
    # The region both created the records and submits them.
    for role in ({"ROLE": "ARCHIVIST"}, {"ROLE": "OTHER", "OTHERROLE": "SUBMITTER"}):
        agency = etree.SubElement(header, _q(METS, "agent"), TYPE="ORGANIZATION", **role)
        etree.SubElement(agency, _q(METS, "name")).text = organisation["name"]
        code = etree.SubElement(agency, _q(METS, "note"))
        code.text = "ORG:" + organisation["org_number"].replace("-", "")
        code.set(_q(CSIP, "NOTETYPE"), "IDENTIFICATIONCODE")
    if submission_agreement:  # SIP5; METS wants altRecordID after the agents
        etree.SubElement(header, _q(METS, "altRecordID"), TYPE="SUBMISSIONAGREEMENT").text = submission_agreement
    return root


def _md_ref(parent, package, path, mdtype, now):
    etree.SubElement(
        parent,
        _q(METS, "mdRef"),
        attrib={
            "LOCTYPE": "URL",
            _q(XLINK, "type"): "simple",
            _q(XLINK, "href"): path,
            "MDTYPE": mdtype,
            **package.attributes(path, now),
        },
    )


def _file_group(file_sec, use, group_id, package, paths, now, href=lambda p: p):
    group = etree.SubElement(file_sec, _q(METS, "fileGrp"), USE=use, ID=group_id)
    # No registered content information type fits; eark-validator 1.1.3 (CSIP63) also wants it named
    # on every file group, not only on representations.
    group.set(_q(CSIP, "CONTENTINFORMATIONTYPE"), "OTHER")
    group.set(_q(CSIP, "OTHERCONTENTINFORMATIONTYPE"), CONTENT_TYPES.get(use, "Avtal"))
    ids = []
    for i, path in enumerate(paths, 1):
        file_id = f"{group_id}-file-{i}"
        ids.append(file_id)
        entry = etree.SubElement(group, _q(METS, "file"), ID=file_id, **package.attributes(path, now))
        etree.SubElement(
            entry,
            _q(METS, "FLocat"),
            attrib={"LOCTYPE": "URL", _q(XLINK, "type"): "simple", _q(XLINK, "href"): href(path)},
        )
    return ids


def _div(parent, label, div_id, file_ids=(), **attrib):
    div = etree.SubElement(parent, _q(METS, "div"), ID=div_id, LABEL=label, **attrib)
    for file_id in file_ids:
        etree.SubElement(div, _q(METS, "fptr"), FILEID=file_id)
    return div


def _root_mets(name, agreement, package, now, submission_agreement=""):
    root = _mets_root(name, agreement, now, submission_agreement)
    dmd = etree.SubElement(root, _q(METS, "dmdSec"), ID="dmd-1", CREATED=_iso(now), STATUS="CURRENT")
    _md_ref(dmd, package, "metadata/descriptive/dc.xml", "DC", now)
    case = etree.SubElement(root, _q(METS, "dmdSec"), ID="dmd-2", CREATED=_iso(now), STATUS="CURRENT")
    _md_ref(case, package, CASE_FILE, "OTHER", now)
    case[0].set("OTHERMDTYPE", "FGS-ARENDE-JSON")
    amd = etree.SubElement(root, _q(METS, "amdSec"), ID="amd-1")
    digiprov = etree.SubElement(amd, _q(METS, "digiprovMD"), ID="premis-1", STATUS="CURRENT")
    _md_ref(digiprov, package, "metadata/preservation/premis.xml", "PREMIS", now)

    file_sec = etree.SubElement(root, _q(METS, "fileSec"), ID="filesec-1")
    documentation = ["documentation/om-paketet.txt", f"documentation/{VERIFIER}"]
    docs = _file_group(file_sec, "Documentation", "documentation", package, documentation, now)
    schema_paths = [f"schemas/{s}" for s in (*SCHEMAS, CASE_SCHEMA)]
    schemas = _file_group(file_sec, "Schemas", "schemas", package, schema_paths, now)
    reps = _file_group(file_sec, "Representations/rep1", "rep1", package, ["representations/rep1/METS.xml"], now)

    struct = etree.SubElement(root, _q(METS, "structMap"), ID="structmap-1", TYPE="PHYSICAL", LABEL="CSIP")
    top = _div(struct, name, "div-package")
    _div(top, "Metadata", "div-metadata", DMDID="dmd-1 dmd-2", ADMID="premis-1")
    _div(top, "Documentation", "div-documentation", docs)
    _div(top, "Schemas", "div-schemas", schemas)
    representations = _div(top, "Representations", "div-representations", reps)
    rep = _div(representations, "Representations/rep1", "div-rep1")
    etree.SubElement(
        rep,
        _q(METS, "mptr"),
        attrib={
            "LOCTYPE": "URL",
            _q(XLINK, "type"): "simple",
            _q(XLINK, "href"): "representations/rep1/METS.xml",
            _q(XLINK, "title"): "rep1",
        },
    )
    return root


def _representation_mets(name, agreement, content, now):
    """The representation's files, and its own PREMIS (CSIPSTR13: a representation SHOULD have metadata/)."""
    root = _mets_root(f"{name}-rep1", agreement, now)
    amd = etree.SubElement(root, _q(METS, "amdSec"), ID="amd-1")
    digiprov = etree.SubElement(amd, _q(METS, "digiprovMD"), ID="premis-1", STATUS="CURRENT")
    _md_ref(digiprov, content, REP_PREMIS, "PREMIS", now)
    file_sec = etree.SubElement(root, _q(METS, "fileSec"), ID="filesec-1")
    data_paths = sorted(p for p in content.data if p.startswith("data/"))
    data = _file_group(file_sec, "Data", "data", content, data_paths, now)
    struct = etree.SubElement(root, _q(METS, "structMap"), ID="structmap-1", TYPE="PHYSICAL", LABEL="CSIP")
    top = _div(struct, f"{name}-rep1", "div-rep1")
    _div(top, "Metadata", "div-metadata", ADMID="premis-1")
    _div(top, "Data", "div-data", data)
    return root


def _dublin_core(agreement, process):
    """Diarienummer, classification, document type, date, period, the parties with organisation
    numbers, the responsible unit and handläggare, title and status."""
    dc = etree.Element(_q(OAI_DC, "dc"), nsmap={"oai_dc": OAI_DC, "dc": DC})
    data = agreement.data

    def add(element, text):
        etree.SubElement(dc, _q(DC, element)).text = text

    add("title", agreement.title)
    if agreement.registration_number:
        add("identifier", f"Diarienummer {agreement.registration_number}")
    add("identifier", f"Avtal {agreement.id}")
    if process:
        add("subject", f"Klassificering {process}")
    add("type", data.get("document_type") or KIND_LABELS.get(agreement.kind, agreement.kind))
    add("date", _completed(agreement).isoformat())
    period = data.get("period")
    if period:
        add("coverage", f"{period['start']}/{period['end']}")
    for party in data["parties"]:
        add("contributor", f"{party['name']} ({party['org_number']})")
    publisher = submitter(agreement)["name"]
    add("creator", f"{data['unit']}, {publisher}" if data.get("unit") else publisher)
    add("publisher", publisher)
    if data.get("handler_name"):
        add("description", f"Handläggare: {data['handler_name']}")
    add("description", f"Status: {STATUS_LABELS.get(agreement.status, agreement.status)}")
    add("format", "application/pdf")
    add("language", "sv")
    return dc


def _completed(agreement) -> date:
    """The Swedish day the first final PDF was made (the last change for an agreement without one)."""
    moment = agreement.final_documents[0].created_at if agreement.final_documents else agreement.updated_at
    return moment.replace(tzinfo=UTC).astimezone(STOCKHOLM).date()


def _case(session, agreement, documents, package) -> fgs.Description:
    """The FGS-style case description (fgs.py) of `agreement`, with `documents` {path: document type}."""
    data = agreement.data
    code = data.get("classification") or ""
    process = registry.process(session, code)
    period = data.get("period")
    region = submitter(agreement)
    return fgs.Description(
        profil=fgs.PROFILE,
        arende=fgs.Case(
            diarienummer=agreement.registration_number,
            rubrik=agreement.title,
            klassificering=fgs.Process(kod=code, benamning=process.label if process else "") if code else None,
            handlingstyp=data.get("document_type") or KIND_LABELS.get(agreement.kind, agreement.kind),
            avtalstyp=KIND_LABELS.get(agreement.kind, agreement.kind),
            handlaggare=data.get("handler_name") or "",
            enhet=data.get("unit") or "",
            arkivbildare=fgs.Organisation(namn=region["name"], organisationsnummer=region["org_number"]),
            period=fgs.Period(fran=period["start"], till=period["end"]) if period else None,
            status=STATUS_LABELS.get(agreement.status, agreement.status),
            avslutat=_completed(agreement),
            parter=[
                fgs.Party(namn=p["name"], organisationsnummer=p["org_number"], typ=p["kind"]) for p in data["parties"]
            ],
            handlingar=[
                fgs.Document(
                    fil=path,
                    handlingstyp=kind,
                    skapad=audit.swedish_iso(package.created[path]),
                    sha256=sha256_hex(package.data[path]),
                )
                for path, kind in documents.items()
            ],
        ),
    )


def _premis_objects(package, schemas):
    """PREMIS with the fixity of every file in `package`; `schemas` is the schema folder, relative."""
    root = etree.Element(
        _q(PREMIS, "premis"),
        nsmap={None: PREMIS, "xsi": XSI},
        attrib={"version": "3.0", _q(XSI, "schemaLocation"): f"{PREMIS} {schemas}/premis.xsd"},
    )
    for path in sorted(package.data):
        _premis_file(root, path, package.data[path])
    return root


def _premis(name, agreement, events, package, now):
    """Fixity of every file before it, the preservation events of the trail, and their agents."""
    root = _premis_objects(package, "../../schemas")
    agents = {audit.SYSTEM.name: SOFTWARE}
    for event in events:
        if event.event not in PREMIS_EVENTS:
            continue
        agents.setdefault(event.actor, audit.actor_label(event.actor))
        detail = audit.EVENT_LABELS.get(event.event, event.event)
        _premis_event(root, f"audit-{event.id}", PREMIS_EVENTS[event.event], event.created_at, detail, event.actor)
        if event.event in SEALED_BY:
            sha = event.details.get("pdf_sha256") or event.details.get("sha256", "")
            seal_detail = f"PDF förseglad med tjänstens sigill (PAdES), SHA-256 {sha}"
            _premis_event(root, f"audit-{event.id}-seal", "digital signature generation", event.created_at, seal_detail)
    _premis_event(root, f"{name}-export", "transfer", now, "Arkivpaket skapat (E-ARK SIP)")
    for identifier, label in agents.items():
        agent = etree.SubElement(root, _q(PREMIS, "agent"))
        ident = etree.SubElement(agent, _q(PREMIS, "agentIdentifier"))
        etree.SubElement(ident, _q(PREMIS, "agentIdentifierType")).text = "local"
        etree.SubElement(ident, _q(PREMIS, "agentIdentifierValue")).text = identifier
        etree.SubElement(agent, _q(PREMIS, "agentName")).text = label
        kind = "software" if identifier == audit.SYSTEM.name else "person"
        etree.SubElement(agent, _q(PREMIS, "agentType")).text = kind
    return root


def _premis_file(root, path, data):
    obj = etree.SubElement(root, _q(PREMIS, "object"), attrib={_q(XSI, "type"): "file"})
    ident = etree.SubElement(obj, _q(PREMIS, "objectIdentifier"))
    etree.SubElement(ident, _q(PREMIS, "objectIdentifierType")).text = "local"
    etree.SubElement(ident, _q(PREMIS, "objectIdentifierValue")).text = path
    chars = etree.SubElement(obj, _q(PREMIS, "objectCharacteristics"))
    fixity = etree.SubElement(chars, _q(PREMIS, "fixity"))
    etree.SubElement(fixity, _q(PREMIS, "messageDigestAlgorithm")).text = "SHA-256"
    etree.SubElement(fixity, _q(PREMIS, "messageDigest")).text = sha256_hex(data)
    etree.SubElement(chars, _q(PREMIS, "size")).text = str(len(data))
    designation = etree.SubElement(etree.SubElement(chars, _q(PREMIS, "format")), _q(PREMIS, "formatDesignation"))
    etree.SubElement(designation, _q(PREMIS, "formatName")).text = _mime(path)
    etree.SubElement(obj, _q(PREMIS, "originalName")).text = Path(path).name


def _premis_event(root, identifier, event_type, moment, detail, actor=None):
    event = etree.SubElement(root, _q(PREMIS, "event"))
    ident = etree.SubElement(event, _q(PREMIS, "eventIdentifier"))
    etree.SubElement(ident, _q(PREMIS, "eventIdentifierType")).text = "local"
    etree.SubElement(ident, _q(PREMIS, "eventIdentifierValue")).text = identifier
    etree.SubElement(event, _q(PREMIS, "eventType")).text = event_type
    etree.SubElement(event, _q(PREMIS, "eventDateTime")).text = _iso(moment)
    info = etree.SubElement(event, _q(PREMIS, "eventDetailInformation"))
    etree.SubElement(info, _q(PREMIS, "eventDetail")).text = detail
    agent = etree.SubElement(event, _q(PREMIS, "linkingAgentIdentifier"))
    etree.SubElement(agent, _q(PREMIS, "linkingAgentIdentifierType")).text = "local"
    etree.SubElement(agent, _q(PREMIS, "linkingAgentIdentifierValue")).text = actor or audit.SYSTEM.name


def _documentation(agreement, events, stem) -> str:
    last = events[-1].hash if events else "–"
    return (
        f"Arkivpaket för avtal {agreement.id}: {agreement.title}\n"
        f"Diarienummer: {agreement.registration_number or '–'}\n\n"
        "Paketet följer E-ARK SIP 2.1.0 och CSIP 2.1.0 (FGS Paketstruktur 2.0).\n"
        "representations/rep1/data/ innehåller de slutliga PDF-filerna och varje låst version av avtalstexten,\n"
        "ett anslutningsbevis för varje organisation som anslutit sig senare och den senaste förteckningen\n"
        "över undertecknande organisationer (PDF, CSV, Excel), alla PDF-filer förseglade med tjänstens\n"
        "elektroniska sigill (PAdES), samt granskningsloggen som JSON och CSV.\n"
        f"Filnamnen börjar med avtalets nummer och diarienummer ({stem}).\n"
        "metadata/descriptive/dc.xml beskriver avtalet (Dublin Core), metadata/descriptive/arende.json\n"
        "ärendet för diariet (diarienummer, klassificering, handlingstyp, handläggare, enhet, period,\n"
        "parter, handlingar), med fälten förklarade i schemas/arende.schema.json; metadata/preservation/premis.xml\n"
        "anger kontrollsummor (SHA-256) för filerna och händelserna ur granskningsloggen (PREMIS 3.0).\n\n"
        "GRANSKNINGSLOGGEN\n"
        f"Loggen innehåller alla {len(events)} händelser för avtalet, i ordning, ingen utelämnad.\n"
        f"Sista händelsens hash: {last}\n"
        "Tider anges i svensk tid med tidszon (ISO 8601, t.ex. 2021-03-09T14:02:00+01:00).\n\n"
        "Varje händelse bär en SHA-256-hash av sitt innehåll, av tjänstens föregående händelse (föregående\n"
        "hash) och av avtalets föregående händelse (avtalets föregående hash; 64 nollor för den första).\n"
        "Avtalets händelser bildar alltså en egen kedja som kan kontrolleras med bara detta paket: en ändrad,\n"
        "borttagen eller tillagd händelse bryter kedjan. Tjänstens hela kedja innehåller också andra avtals\n"
        "händelser, med andra personers uppgifter; de hör inte hemma i detta paket, därför har avtalet en\n"
        "egen kedja i stället för att paketet bär ett sammanhängande utsnitt av hela kedjan.\n\n"
        "Så kontrollerar du loggen (Python 3.9 eller senare, inga andra program behövs), i paketets mapp:\n\n"
        f"    python3 documentation/{VERIFIER} representations/rep1/data/{stem}-granskningslogg.json\n\n"
        'Programmet räknar om varje händelses hash och följer avtalets kedja. Det skriver "OK" och sista\n'
        "händelsens hash (jämför med raden ovan) eller vilka händelser som inte stämmer, och avslutas med\n"
        "kod 0 om loggen håller, annars 1. Hur hashen bildas står i programmets början: kanonisk JSON\n"
        "(sorterade nycklar, inga mellanslag, UTF-8) av händelsens fält med tiden i UTC utan tidszon.\n"
    )


def export_agreement(db, files, agreement_id, actor, submission_agreement="") -> Package:
    """Build one agreement's package and record the export, with the package's SHA-256, in the trail."""
    with db.session() as session:
        agreement = session.get(Agreement, agreement_id)
        package = build_package(session, files, agreement, submission_agreement=submission_agreement)
        audit.record(session, "exported", actor, agreement_id, package=package.name, sha256=package.sha256)
    return package


def completed_between(session, start: date, end: date) -> list[int]:
    """Agreements whose first final PDF was made from `start` to `end` (inclusive, Swedish time)."""
    since = datetime.combine(start, time.min, STOCKHOLM).astimezone(UTC).replace(tzinfo=None)
    until = datetime.combine(end, time.max, STOCKHOLM).astimezone(UTC).replace(tzinfo=None)
    firsts = select(FinalDocument.agreement_id).where(
        FinalDocument.number == 1, FinalDocument.created_at >= since, FinalDocument.created_at <= until
    )
    return list(session.scalars(firsts.order_by(FinalDocument.created_at, FinalDocument.agreement_id)))


def checksum_line(package: Package) -> str:
    """The line written beside a package, as `sha256sum -c` reads it."""
    return f"{package.sha256}  {package.filename}\n"


def write_package(package: Package, directory: Path) -> Path:
    """The package's ZIP and `<ZIP>.sha256` in `directory`; never overwrites."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / package.filename
    with open(target, "xb") as f:
        f.write(package.data)
    with open(directory / f"{package.filename}.sha256", "x", encoding="ascii") as f:
        f.write(checksum_line(package))
    return target


def bundle(packages: list[Package]) -> bytes:
    """Several packages in one download, each with its checksum file beside it (stored, not recompressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for package in packages:
            archive.writestr(package.filename, package.data)
            archive.writestr(f"{package.filename}.sha256", checksum_line(package))
    return out.getvalue()
