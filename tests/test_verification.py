"""Verifying a PDF with nothing but the file: `flask verify` and the public /verifiera page.

Against the genuine final PDF and frozen version, and against copies a person might
present instead: one byte changed, a page removed, an incremental update that changes a
word, the same text re-saved by another program, a PDF the service never issued, and
our text sealed with someone else's key.
"""

import io
import json
import re
import time

import pikepdf
import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import SimpleSigner
from sqlalchemy import select

from service import create_app
from service.documents import seal
from service.documents.appendix import VERIFY_HOW
from service.documents.fill import fill_agreement
from service.models import AuditEvent, FinalDocument, Version
from service.records import verification
from service.schema import validate_agreement
from service.web import verify as verify_page

from .helpers import (
    axe_check,
    complete_iop,
    count,
    csrf_token,
    flat,
    pdf_text,
    screenshot,
    stored_files,
    with_updates,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


@pytest.fixture
def issued(app, client, api_token, iop_data, run_jobs):
    """The sealed final PDF and frozen version of a completed IOP agreement."""
    agreement_id = complete_iop(app, client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        final = session.scalars(select(FinalDocument).where(FinalDocument.agreement_id == agreement_id)).one()
        version = session.scalars(select(Version).where(Version.agreement_id == agreement_id)).one()
        files = app.extensions["files"]
        return {"id": agreement_id, "final": files.get(final.sha256), "frozen": files.get(version.pdf_sha256)}


def one_byte_changed(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    changed[len(pdf) // 3] ^= 0x01
    return bytes(changed)


def page_removed(pdf: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        del doc.pages[-1]
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def resaved(pdf: bytes) -> bytes:
    """The same document written out again by qpdf (through pikepdf), nothing changed on purpose."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def word_changed(pdf: bytes) -> bytes:
    """An incremental update after the seal: two letters of the first page's first word swapped."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    content = page["/Contents"].data
    glyphs = re.search(rb"<([0-9A-F]{2})([0-9A-F]{2})>", content)
    swapped = content[: glyphs.start()] + b"<" + glyphs.group(2) + glyphs.group(1) + b">" + content[glyphs.end() :]
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=swapped))
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def run_verify(runner, tmp_path, pdf, *options):
    path = tmp_path / "inskickad.pdf"
    path.write_bytes(pdf)
    return runner.invoke(args=["verify", str(path), *options])


def test_genuine_final_and_frozen_version_are_known_and_intact(runner, tmp_path, issued):
    result = run_verify(runner, tmp_path, issued["final"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"Äkta: Slutlig PDF nr 1 för avtal {issued['id']} ”")
    assert "diarienummer RS 2020/2741" in first
    assert "Bekräftat av Region Skåne" in result.output and "Kristianstad" in result.output
    assert "Bekräftat av NÄTVERKET – Idéburen sektor Skåne" in result.output and "Malmö" in result.output
    assert seal.SELF_SIGNED_NOTICE in result.output  # says plainly what a self-signed seal proves
    assert flat(VERIFY_HOW) in flat(pdf_text(issued["final"]))  # the appendix says how to check

    report = json.loads(run_verify(runner, tmp_path, issued["final"], "--json").output)
    assert report["ok"] and report["intact"] and report["covers_whole_file"] and report["sealed_by_this_service"]
    assert report["self_signed"] and report["notice"] == seal.SELF_SIGNED_NOTICE
    assert [c["place"] for c in report["document"]["confirmations"]] == ["Kristianstad", "Malmö"]

    frozen = run_verify(runner, tmp_path, issued["frozen"])
    assert frozen.exit_code == 0, frozen.output
    assert frozen.output.startswith(f"Äkta: Låst version 1 av avtalstexten för avtal {issued['id']}")


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (one_byte_changed, verification.BROKEN),
        (page_removed, verification.BROKEN),
        (word_changed, verification.NOT_COVERED),
        (resaved, verification.BROKEN),
    ],
    ids=["one-byte-changed", "page-removed", "word-changed-in-an-update", "resaved-by-qpdf"],
)
def test_altered_copies_are_refused_saying_what_is_wrong(runner, tmp_path, issued, tamper, problem):
    altered = tamper(issued["final"])
    assert altered != issued["final"]
    result = run_verify(runner, tmp_path, altered)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1  # one line
    assert problem in result.output and verification.UNKNOWN in result.output
    report = json.loads(run_verify(runner, tmp_path, altered, "--json").output)
    assert not report["ok"] and report["document"] is None


def test_an_update_that_changes_a_word_shows_in_the_text(issued):
    original, changed = pdf_text(issued["final"]), pdf_text(word_changed(issued["final"]))
    assert original != changed  # what a reader would see; the seal still reports it


def test_a_pdf_the_service_never_issued(app, office, runner, tmp_path, iop_data):
    never_issued = office.convert(fill_agreement(validate_agreement(iop_data)), pdfa=True)
    result = run_verify(runner, tmp_path, never_issued)
    assert result.exit_code == 1
    assert result.output == f"Kan inte bekräftas: {verification.NO_SEAL} {verification.UNKNOWN}\n"

    someone_else = seal.Sealer(SimpleSigner.load_pkcs12_data(seal.self_signed_p12("Annan"), other_certs=()))
    result = run_verify(runner, tmp_path, someone_else.seal(never_issued))
    assert result.exit_code == 1 and verification.NOT_OURS in result.output

    assert run_verify(runner, tmp_path, b"inte en pdf").output.startswith(
        f"Kan inte bekräftas: {verification.UNREADABLE}"
    )
    missing = runner.invoke(args=["verify", str(tmp_path / "finns-inte.pdf")])
    assert missing.exit_code == 1 and "Filen" in missing.output and "kunde inte läsas" in missing.output


# --- the public page ---


def upload(client, pdf, name="avtal.pdf"):

    token = csrf_token(client.get("/verifiera").get_data(as_text=True))
    return client.post(
        "/verifiera", data={"csrf_token": token, "pdf": (io.BytesIO(pdf), name)}, content_type="multipart/form-data"
    )


def test_anyone_can_verify_a_genuine_final_without_logging_in(app, client, issued):
    before = (count(app, AuditEvent), stored_files(app))
    page = upload(client, issued["final"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Äkta och oförändrad" in html and "Slutlig PDF nr 1" in html
    assert "RS 2020/2741" in html and "Region Skåne" in html and "Kristianstad" in html
    assert seal.SELF_SIGNED_NOTICE in html
    assert (count(app, AuditEvent), stored_files(app)) == before  # never stored, nothing recorded


def test_an_unknown_file_reveals_nothing(app, client, issued):
    page = upload(client, word_changed(issued["final"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Okänt dokument" in html and verification.NOT_COVERED in html
    assert "Region Skåne" not in html and "RS 2020/2741" not in html and "Kristianstad" not in html


def test_the_seal_certificate_can_be_downloaded(app, client):
    page = client.get("/verifiera").get_data(as_text=True)
    assert 'href="/verifiera/sigillcertifikat.cer"' in page and "pyhanko sign validate" in page
    response = client.get("/verifiera/sigillcertifikat.cer")
    assert response.status_code == 200 and response.mimetype == "application/pkix-cert"
    assert x509.Certificate.load(response.data).dump() == app.extensions["seal"].certificate.dump()


def test_missing_file_and_size_limits_in_swedish(client):

    token = csrf_token(client.get("/verifiera").get_data(as_text=True))
    missing = client.post("/verifiera", data={"csrf_token": token}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Välj en PDF-fil att kontrollera." in missing.get_data(as_text=True)

    larger_than_forms = upload(client, b"%PDF-1.7\n" + b"0" * (6 * 1024 * 1024))  # above the usual 5 MB
    assert larger_than_forms.status_code == 200
    assert verification.UNREADABLE in larger_than_forms.get_data(as_text=True)

    too_large = upload(client, b"0" * (verify_page.MAX_UPLOAD + 1))
    assert too_large.status_code == 413 and "för stor" in too_large.get_data(as_text=True)


def test_checks_are_rate_limited_per_address_across_hosts(app, client):
    """Two web hosts (two apps on one database) share the count."""
    app.extensions["verify_limit"].max_hits = 3
    other_host = create_app({"TESTING": True}, office=app.extensions["office"])
    other_host.extensions["verify_limit"].max_hits = 3
    other_client = other_host.test_client()
    statuses = [upload(c, b"inte en pdf").status_code for c in (client, other_client, client, other_client)]
    other_host.extensions["jobs"].close()
    assert statuses == [200, 200, 200, 429]
    assert "För många försök" in upload(client, b"inte en pdf").get_data(as_text=True)


def test_verification_page_in_a_browser_is_accessible(page, issued, tmp_path):

    page.goto("/verifiera")
    axe_check(page)
    path = tmp_path / "avtal.pdf"
    path.write_bytes(issued["final"])
    page.set_input_files("#pdf", str(path))
    page.get_by_role("button", name="Kontrollera").click()
    page.get_by_text("Äkta och oförändrad.").wait_for()
    assert "RS 2020/2741" in page.content()
    axe_check(page)
    screenshot(page, "verify-genuine-final")


def test_bytes_after_the_seal_are_not_covered(runner, tmp_path, client, issued):
    appended = issued["final"] + b"twelve bytes"
    result = run_verify(runner, tmp_path, appended)
    assert result.exit_code == 1 and verification.NOT_COVERED in result.output
    report = json.loads(run_verify(runner, tmp_path, appended, "--json").output)
    assert report["intact"] and not report["covers_whole_file"] and not report["ok"]
    assert verification.NOT_COVERED in upload(client, appended).get_data(as_text=True)


def test_a_file_of_many_updates_is_too_complex_and_answered_at_once(app, client, runner, tmp_path, issued):
    """Each incremental update made pyHanko slower, faster than linearly: counted before parsing."""
    many = with_updates(issued["final"], verification.MAX_REVISIONS)
    started = time.monotonic()
    page = upload(client, many)
    assert page.status_code == 200 and verification.TOO_COMPLEX in page.get_data(as_text=True)
    assert time.monotonic() - started < 2
    report = json.loads(run_verify(runner, tmp_path, many, "--json").output)
    assert not report["ok"] and verification.TOO_COMPLEX in report["problems"]

    few = with_updates(issued["final"], 3)  # within the bounds: checked, and the updates are seen
    assert verification.NOT_COVERED in upload(client, few).get_data(as_text=True)


def test_a_check_past_its_time_budget_is_too_complex(app, client, issued, monkeypatch):
    monkeypatch.setattr(verification, "CHECK_SECONDS", 0)
    page = upload(client, issued["final"])
    assert page.status_code == 200 and verification.TOO_COMPLEX in page.get_data(as_text=True)
