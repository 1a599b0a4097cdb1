"""Bulk accession: a list of organisations joins a completed överenskommelse.

1. `check` reads the list (CSV, XLSX, or the API's JSON) and validates every row:
   the schema's party rules (Luhn, email syntax, names), an email address to send the
   link to, and no organisation twice, in the list or among the parties. Nothing but
   the list itself (in the file store) is kept, so the official sees the report first.
2. `accept` marks the list for joining and returns at once, whatever its length.
3. `join_and_send`, run by the job queue, takes the list BATCH rows at a time: each valid
   row becomes a party with its one link, in one transaction that also moves the list's
   `rows_done` on by an atomic compare-and-set, so a job that runs again after a restart, or
   twice at once, never joins an organisation twice or gives it a second link. Mail goes out
   after that commit; a crash in between leaves links whose delivery is unknown, shown as
   such, never resent.
"""

import csv
import io
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from . import agreements, audit, listing, mail, signing, zips
from .errors import Conflict, InvalidInput, NotFound
from .models import Accession, Agreement, Party, SigningLink, User, utcnow
from .schema import MAX_ACCEDED_PARTIES, SchemaError, org_number_or_blank, validate_party

# Column headings as people write them, compacted (listing.compact): "E-post" -> "epost".
COLUMNS = {
    "name": ("namn", "organisation", "organisationensnamn", "foreningensnamn", "name"),
    "org_number": ("organisationsnummer", "orgnr", "orgnummer", "organisationsnr", "orgnumber", "org_number"),
    "contact_email": ("epost", "epostadress", "mejl", "mejladress", "email", "emailaddress"),
    "representative": ("firmatecknare", "ombud", "foretradare", "representant", "representative"),
    "title": ("titel", "befattning", "roll", "title"),
}
COLUMN_LABELS = {
    "name": "Namn",
    "org_number": "Organisationsnummer",
    "contact_email": "E-post",
    "representative": "Firmatecknare",
    "title": "Titel",
}
BATCH = 25  # links issued per transaction, emails sent per SMTP connection
# An Excel list of MAX_ACCEDED_PARTIES rows unpacks to a few MB; its columns are read up to
# this many (the five the list needs, wherever the heading puts them)
XLSX_MAX_MEMBERS = 100
XLSX_MAX_UNPACKED_BYTES = 30 * 1024 * 1024
XLSX_MAX_COLUMNS = 30
NOT_AN_XLSX = "Filen kunde inte läsas som en Excel-fil (.xlsx)."


class AccessionError(InvalidInput):
    """The list as a whole cannot be used: not a readable CSV, Excel or JSON list of parties."""


@dataclass
class RowReport:
    line: int  # the row number as the spreadsheet shows it (the heading is row 1)
    name: str
    org_number: str
    errors: list[str] = field(default_factory=list)
    party: dict | None = None  # the party as it will be stored, when the row is valid

    @property
    def ok(self) -> bool:
        return not self.errors


# --- reading the list ---


def read_rows(filename: str, content: bytes) -> list[tuple[int, dict]]:
    """(row number, party data) for each non-empty row of a .csv, .xlsx or .json list."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "csv":
        rows = _csv_rows(content)
    elif suffix == "xlsx":
        rows = _xlsx_rows(content)
    elif suffix == "json":
        return _json_rows(content)
    else:
        raise AccessionError("Ladda upp listan som CSV (.csv) eller Excel (.xlsx).")
    return _parties_from_table(rows)


def _csv_rows(content):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # Excel's "CSV" on Swedish Windows
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))[: MAX_ACCEDED_PARTIES + 2]


def _xlsx_rows(content):
    """The first sheet's rows, first XLSX_MAX_COLUMNS columns, after the zip directory has
    shown the file small enough to open."""
    if problems := zips.unpack_problems(content, XLSX_MAX_MEMBERS, XLSX_MAX_UNPACKED_BYTES):
        raise AccessionError(f"{NOT_AN_XLSX} {problems[0]}")
    try:
        return _read_sheet(content)
    except Exception:  # broken XML, an entity bomb the parser stops, anything else malformed
        raise AccessionError(NOT_AN_XLSX) from None


def _read_sheet(content):
    from openpyxl import load_workbook  # only needed for Excel uploads

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0].iter_rows(
            max_row=MAX_ACCEDED_PARTIES + 2, max_col=XLSX_MAX_COLUMNS, values_only=True
        )
        return [[_cell_text(value) for value in row] for row in sheet]
    finally:
        workbook.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an organisation number typed as a number
    return str(value).strip()


def _parties_from_table(rows):
    if not rows:
        raise AccessionError("Filen är tom.")
    columns = _columns(rows[0])
    parties = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        value = {key: (row[i].strip() if i < len(row) else "") for key, i in columns.items()}
        parties.append(
            (
                line,
                {
                    "name": value["name"],
                    "org_number": value["org_number"],
                    "kind": "idéburen",
                    "contact_email": value["contact_email"],
                    "representative": {"name": value["representative"], "title": value.get("title", "")},
                },
            )
        )
    _check_size(parties)
    return parties


def _columns(heading) -> dict[str, int]:
    """Which column holds what, from the heading row; AccessionError naming what is missing."""
    found = {}
    for i, text in enumerate(heading):
        key = listing.compact(text)
        for column, names in COLUMNS.items():
            if key in names and column not in found:
                found[column] = i
    missing = [COLUMN_LABELS[c] for c in COLUMNS if c not in found and c != "title"]
    if missing:
        raise AccessionError(
            "Första raden ska ha kolumnrubrikerna Namn, Organisationsnummer, E-post, Firmatecknare och Titel. "
            f"Saknas: {', '.join(missing)}."
        )
    return found


def _json_rows(content):
    try:
        data = json.loads(content)
    except ValueError:
        raise AccessionError("Listan måste vara en JSON-lista med parter.") from None
    if not isinstance(data, list) or not data:
        raise AccessionError("Listan måste vara en JSON-lista med minst en part.")
    parties = [(i, party) for i, party in enumerate(data, start=1)]
    _check_size(parties)
    return parties


def _check_size(parties):
    if not parties:
        raise AccessionError("Listan har inga rader med organisationer.")
    if len(parties) > MAX_ACCEDED_PARTIES:
        raise AccessionError(f"Listan får ha högst {MAX_ACCEDED_PARTIES} organisationer.")


# --- checking every row ---


def check(session, agreement, rows) -> list[RowReport]:
    """A report per row: what is wrong with it, or the party as it will be stored."""
    reports = [_check_row(line, data) for line, data in rows]
    numbers = [r.party["org_number"] if r.party else org_number_or_blank(r.org_number) for r in reports]
    existing = agreements.joined_org_numbers(session, agreement, numbers)
    first_line: dict[str, int] = {}
    for report, number in zip(reports, numbers, strict=True):
        if number in existing:
            report.errors.append("Organisationen är redan part i överenskommelsen.")
        elif number and number in first_line:
            report.errors.append(f"Samma organisationsnummer som rad {first_line[number]}.")
        elif number:
            first_line[number] = report.line
        if report.errors:
            report.party = None
    return reports


def _text(data, key) -> str:
    return str(data.get(key) or "") if isinstance(data, dict) else ""


def _check_row(line, data) -> RowReport:
    report = RowReport(line, _text(data, "name"), _text(data, "org_number"))
    if not isinstance(data, dict):
        report.errors.append("Raden måste vara ett JSON-objekt med partens uppgifter.")
        return report
    try:
        report.party = validate_party(data)
        report.org_number = report.party["org_number"]
    except SchemaError as exc:
        report.errors.extend(f"{message}." for message in exc.errors.values())
    if not _text(data, "contact_email").strip():
        report.errors.append("E-postadress måste fyllas i: länken skickas med e-post.")
    return report


# --- accepting the list and sending the links ---


def store(session, files, agreement, filename, content, user) -> Accession:
    """Keep the uploaded list (by SHA-256) and the rows read from it as a checked accession;
    AccessionError if it cannot be read."""
    agreements.check_open_for_accession(agreement)
    rows = read_rows(filename, content)
    accession = Accession(
        agreement_id=agreement.id,
        filename=filename[:300],
        file_sha256=files.put(content),
        rows_sha256=files.put(json.dumps(rows, ensure_ascii=False).encode()),
        rows_total=len(rows),
        status="checked",
        created_by_id=user.id if user else None,
    )
    session.add(accession)
    session.flush()
    return accession


def get_accession(session, agreement_id, accession_id) -> Accession:
    """A list uploaded to this agreement; NotFound for any other."""
    found = session.get(Accession, accession_id)
    if found is None or found.agreement_id != agreement_id:
        raise NotFound("Listan finns inte.")
    return found


def check_whole(session, agreement, filename, content) -> None:
    """A list that joins only whole (the API's): InvalidInput, with each bad row's problems by
    line number, if any row has one."""
    reports = check(session, agreement, read_rows(filename, content))
    if bad := [r for r in reports if not r.ok]:
        errors = {str(r.line): " ".join(r.errors) for r in bad}
        raise InvalidInput(f"{len(bad)} av {len(reports)} parter har fel. Inget är sparat.", errors)


def report_for(session, files, accession) -> list[RowReport]:
    agreement = session.get(Agreement, accession.agreement_id)
    return check(session, agreement, stored_rows(files, accession))


def stored_rows(files, accession) -> list[tuple[int, dict]]:
    """The rows read at upload; a list uploaded before they were kept is read once more."""
    if accession.rows_sha256 is None:
        return read_rows(accession.filename, files.get(accession.file_sha256))
    return [(line, data) for line, data in json.loads(files.get(accession.rows_sha256))]


def accept(session, accession, actor, can_email) -> int:
    """Mark the list for joining by the job queue; returns its number of rows. Quick whatever
    the list's length: the rows are checked again as they join (parties may have joined since).
    `can_email`: whether mail is set up; a list's links go out by email only."""
    if accession.status != "checked":
        raise Conflict("Listan är redan ansluten.")
    if not can_email:
        raise Conflict(
            "E-post är inte inställd för tjänsten, så länkarna kan inte skickas till listans organisationer. "
            "Be administratören ställa in SMTP, eller anslut organisationerna en och en."
        )
    agreement = session.get(Agreement, accession.agreement_id)
    agreements.check_open_for_accession(agreement)
    agreements.check_room_for(agreement, accession.rows_total)
    accession.status = "sending"
    accession.accepted_at = utcnow()
    audit.record(
        session,
        "accession_accepted",
        actor,
        agreement.id,
        file_sha256=accession.file_sha256,
        rows=accession.rows_total,
    )
    return accession.rows_total


def unfinished(session) -> list[int]:
    """Accessions whose links are still going out: the sweep queues them again after a restart."""
    return list(session.scalars(select(Accession.id).where(Accession.status == "sending")))


def join_and_send(app, accession_id) -> int:
    """Join the list's rows and email their links, BATCH at a time. Safe to run again or
    concurrently. Returns how many organisations this run joined."""
    db, files = app.extensions["db"], app.extensions["files"]
    serializer = signing.link_serializer(app.config["SECRET_KEY"])
    with db.session() as session:
        rows = stored_rows(files, session.get(Accession, accession_id))
    joined_total = 0
    while True:
        with db.session() as session:
            accession = session.get(Accession, accession_id)
            agreement = session.get(Agreement, accession.agreement_id)
            sender = session.get(User, accession.created_by_id) if accession.created_by_id else None
            actor = audit.Actor(f"user:{sender.email}" if sender else "system")
            batch = _claim_batch(session, accession, rows)
            if batch is None:
                if accession.status != "done":  # a run at the same time may have got here first
                    accession.status = "done"
                    audit.record(session, "accession_done", actor, agreement.id, file_sha256=accession.file_sha256)
                return joined_total
            issued = _join_batch(session, serializer, agreement, accession, batch, app.config, actor)
        mail.send_links(app, agreement, issued, sender.email if sender else app.config["MAIL_FROM"])
        joined_total += len(issued)


def _claim_batch(session, accession, rows) -> list[tuple[int, dict]] | None:
    """The next BATCH rows of the list, claimed for this transaction; None when none are left
    (or another run got the list's last rows)."""
    start = accession.rows_done
    if start >= len(rows):
        return None
    end = min(start + BATCH, len(rows))
    claimed = session.execute(
        update(Accession).where(Accession.id == accession.id, Accession.rows_done == start).values(rows_done=end)
    )
    if claimed.rowcount != 1:
        session.rollback()
        session.refresh(accession)
        return _claim_batch(session, accession, rows)
    return rows[start:end]


def _join_batch(session, serializer, agreement, accession, batch, config, actor) -> list[signing.IssuedLink]:
    """The batch's valid rows as parties with their links; the others counted as skipped."""
    valid = [r.party for r in check(session, agreement, batch) if r.ok]
    room = MAX_ACCEDED_PARTIES - agreement.acceded_count
    valid = valid[: max(room, 0)]
    accession.rows_skipped += len(batch) - len(valid)
    if not valid:
        return []
    version = signing.latest_version(session, agreement.id)
    added = agreements.add_parties(session, agreement, valid, actor, accession_id=accession.id)
    return [signing.issue_link(session, serializer, p, version, config["LINK_MAX_AGE_DAYS"], actor) for p in added]


@dataclass
class Progress:
    total: int  # the list's rows that join (all but those skipped so far)
    emailed: int
    failed: int
    unknown: int  # issued, but the run stopped before its email was confirmed
    skipped: int = 0  # rows found wrong when they came to join (e.g. the organisation had joined since)

    @property
    def waiting(self) -> int:
        return self.total - self.emailed - self.failed - self.unknown


def progress(session, accession) -> Progress:
    """How far the accession's links have gone out, counted in one query."""
    rows = session.execute(
        select(SigningLink.delivery, func.count(SigningLink.id))
        .join(Party, Party.id == SigningLink.party_id)
        .where(Party.accession_id == accession.id, SigningLink.created_at >= accession.accepted_at)
        .group_by(SigningLink.delivery)
    ).all()
    counts = dict(rows)
    unknown = counts.get("", 0) if accession.status == "done" else 0
    total = accession.rows_total - accession.rows_skipped
    return Progress(total, counts.get("emailed", 0), counts.get("failed", 0), unknown, accession.rows_skipped)
