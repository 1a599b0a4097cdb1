"""The PAdES seal on every frozen version and final PDF: PDF/A-2b kept, B-B or B-T, the key.

No PDF/A validator installs here, so the rules a seal can break are checked with pikepdf.
Timestamps come from pyHanko's own DummyTimeStamper behind a real HTTP server on loopback.
"""

import asyncio
import datetime
import hashlib
import io
import multiprocessing
import threading

import pikepdf
import pytest
from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from service import create_app
from service import migrate as migrations
from service.documents import seal
from service.models import Agreement, Version
from service.records import verification

from .helpers import (
    PRINT,
    bearer,
    confirm,
    create_and_send,
    final_pdf,
    free_port,
    path_of,
    pdfa_problems,
    save_artifact,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def seal_status(pdf: bytes, sealer):
    """pyHanko's own view of the seal, trusting exactly `sealer`'s certificate."""
    from service.records.verification import _trusting

    signature = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    return seal.outside_event_loop(
        lambda: validate_pdf_signature(signature, signer_validation_context=_trusting(sealer))
    )


def party_pdf(client, link_url) -> bytes:
    response = client.get(path_of(link_url) + "/avtal.pdf")
    assert response.status_code == 200, response.status_code
    return response.data


# --- a timestamp service on loopback: pyHanko's DummyTimeStamper behind real HTTP ---


def self_signed(name, *extensions) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throw-away RSA key and a 30-day self-signed certificate for it; `extensions` are
    (extension, critical) pairs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(key, hashes.SHA256())


def tsa_identity():
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Testtidsstämpel")])
    key, certificate = self_signed(name, (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True))
    der = serialization.Encoding.DER
    der_key = key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return asn1_x509.Certificate.load(certificate.public_bytes(der)), keys.PrivateKeyInfo.load(der_key)


@pytest.fixture(scope="module")
def tsa_url():
    """The URL of an RFC 3161 timestamp service on loopback; it counts the requests it answers."""
    stamper = DummyTimeStamper(*tsa_identity())
    answered = []

    @Request.application
    def tsa(request):
        reply = asyncio.run(stamper.async_request_tsa_response(tsp.TimeStampReq.load(request.get_data())))
        answered.append(1)
        return Response(reply.dump(), content_type="application/timestamp-reply")

    server = make_server("127.0.0.1", 0, tsa, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa"
    server.shutdown()
    thread.join()


def app_with(tmp_path, office, monkeypatch, **config):
    monkeypatch.setenv("AVTAL_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, **config}, office=office)
    migrations.upgrade(app.extensions["db"])
    return app


# --- the tests ---


def test_what_parties_confirm_and_the_final_pdf_are_sealed_and_stay_pdfa(app, client, api_token, iop_data, run_jobs):
    sealer = app.extensions["seal"]
    agreement_id, links = create_and_send(client, api_token, iop_data)
    frozen = party_pdf(client, links[0]["url"])
    with app.extensions["db"].session() as session:
        version = session.scalars(select(Version).where(Version.agreement_id == agreement_id)).one()
        recorded = version.pdf_sha256
    assert hashlib.sha256(frozen).hexdigest() == recorded  # the party is served exactly the sealed, recorded bytes
    assert app.extensions["files"].get(recorded) == frozen

    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    final = final_pdf(app, client, api_token, agreement_id)
    save_artifact("final-iop-skane-sealed.pdf", final)

    for pdf in (frozen, final):
        status = seal_status(pdf, sealer)
        assert status.intact and status.valid and status.trusted and status.docmdp_ok
        assert status.coverage.name == "ENTIRE_FILE"
        assert pdfa_problems(pdf) == []
        assert pdf.startswith(b"%PDF-1.7\n")  # PDF/A-2 is PDF 1.7, in the header and the catalog
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            assert doc.pdf_version == "1.7" and str(doc.Root.get("/Version", "/1.7")) == "/1.7"
            assert "/ISO_" not in str(doc.Root.get("/Extensions", {}))
            assert set(doc.Root.Perms.keys()) == {"/DocMDP"}
            assert doc.Root.Perms.DocMDP.Reference[0].TransformParams.P == 1  # no changes allowed
            (field,) = doc.Root.AcroForm.Fields
            assert field.FT == "/Sig" and field.T == seal.FIELD_NAME
            assert int(field.F) & PRINT and [float(v) for v in field.Rect] == [0, 0, 0, 0] and "/AP" not in field
            assert doc.Root.Perms.DocMDP.SubFilter == "/ETSI.CAdES.detached"  # PAdES

    with pikepdf.open(io.BytesIO(final)) as doc:
        spec = doc.attachments[f"avtal-version-{version.number}.pdf"]
        embedded = spec.get_file().read_bytes()
        assert "/F" in spec.obj and "/UF" in spec.obj
    assert embedded == frozen  # the confirmed bytes ride inside the final PDF, seal and all
    assert pdfa_problems(embedded) == []
    assert len(PdfFileReader(io.BytesIO(final)).embedded_signatures) == 1  # the frozen seal is not carried over


def test_seal_is_an_incremental_update_of_the_unsealed_pdf(app, office, iop_data):
    from service.documents import render_agreement_pdf
    from service.schema import validate_agreement

    pdf, _ = render_agreement_pdf(validate_agreement(iop_data), office, app.extensions["files"], pdfa=True)
    sealed = app.extensions["seal"].seal(pdf)
    assert sealed.startswith(pdf) and len(sealed) > len(pdf)
    assert app.extensions["seal"].level == "PAdES B-B"
    assert seal_status(sealed, app.extensions["seal"]).timestamp_validity is None


def test_timestamp_from_the_configured_service_makes_it_b_t(tmp_path, office, monkeypatch, tsa_url, iop_data):
    from service.documents import render_agreement_pdf
    from service.schema import validate_agreement

    app = app_with(tmp_path, office, monkeypatch, TSA_URL=tsa_url)
    sealer = app.extensions["seal"]
    assert sealer.level == "PAdES B-T"
    pdf, _ = render_agreement_pdf(validate_agreement(iop_data), office, app.extensions["files"], pdfa=True)
    before = datetime.datetime.now(datetime.UTC)
    status = seal_status(sealer.seal(pdf), sealer)
    assert status.intact and status.valid
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert abs(status.timestamp_validity.timestamp - before) < datetime.timedelta(minutes=1)


def test_a_timestamp_service_that_does_not_answer_leaves_the_draft_unsent(
    tmp_path, office, monkeypatch, iop_data, make_user
):
    app = app_with(tmp_path, office, monkeypatch, TSA_URL=f"http://127.0.0.1:{free_port()}/tsa")
    client = app.test_client()
    from service import users

    with app.extensions["db"].session() as session:
        user = users.create_user(session, "tsa@example.se", "official", users.generate_password())
        token = users.issue_api_token(session, user)
    agreement_id = client.post("/api/agreements", json=iop_data, headers=bearer(token)).json["id"]
    response = client.post(f"/api/agreements/{agreement_id}/send", headers=bearer(token))
    assert response.status_code == 503
    assert response.json["message"] == "Tidsstämpeltjänsten svarade inte, så dokumentet kunde inte förseglas."
    with app.extensions["db"].session() as session:
        assert session.get(Agreement, agreement_id).status == "draft"
        assert session.scalars(select(Version)).all() == []


def _make_default_key(instance, queue):
    queue.put(seal.default_p12(instance, "Region Halland"))


def test_workers_starting_together_agree_on_one_self_signed_key(tmp_path):
    instance = tmp_path / "instance"
    queue = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(target=_make_default_key, args=(instance, queue)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    keys_made = {queue.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join()
    assert len(keys_made) == 1
    assert [p.name for p in instance.iterdir()] == [seal.DEFAULT_P12]  # no temporary file left behind


def test_restart_keeps_the_self_signed_certificate(tmp_path, office, monkeypatch):
    first = app_with(tmp_path, office, monkeypatch, SEAL_ORGANISATION="Region Skåne").extensions["seal"]
    second = app_with(tmp_path, office, monkeypatch, SEAL_ORGANISATION="Region Skåne").extensions["seal"]
    assert first.certificate.dump() == second.certificate.dump()
    assert first.self_signed
    assert "Region Skåne" in first.certificate.subject.human_friendly


def organisation_p12(password: bytes) -> bytes:
    key, certificate = self_signed(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Region Kronoberg")]))
    encryption = serialization.BestAvailableEncryption(password)
    return pkcs12.serialize_key_and_certificates(b"org", key, certificate, None, encryption)


def test_a_configured_organisation_key_is_used(tmp_path, office, monkeypatch):
    path = tmp_path / "org.p12"
    path.write_bytes(organisation_p12(b"hemligt"))
    app = app_with(tmp_path, office, monkeypatch, SEAL_P12=str(path), SEAL_PASSWORD="hemligt")
    assert app.extensions["seal"].certificate.subject.human_friendly == "Organization: Region Kronoberg"
    assert not (tmp_path / "instance" / seal.DEFAULT_P12).exists()

    with pytest.raises(seal.SealError) as refused:
        app_with(tmp_path, office, monkeypatch, SEAL_P12=str(path), SEAL_PASSWORD="fel")
    assert refused.value.message == "Sigillnyckeln kunde inte öppnas: kontrollera filen och lösenordet."


# --- B-LT: a seal certificate that names where its revocation list is ---


def organisation_pki(crl_url):
    """A root CA, a seal certificate naming `crl_url`, and the root's (empty) CRL, DER-encoded."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Testregionens rot-CA")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Region Testland")]))
        .issuer_name(root_name)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.CRLDistributionPoints([point]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_name)
        .last_update(now - datetime.timedelta(hours=1))
        .next_update(now + datetime.timedelta(days=1))
        .sign(root_key, hashes.SHA256())
    )
    p12 = pkcs12.serialize_key_and_certificates(b"seal", seal_key, leaf, [root], serialization.NoEncryption())
    return p12, crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def crl_server():
    """An HTTP server on loopback serving one CRL; yields (url, set the CRL, request count)."""
    served = {"crl": b"", "requests": 0}

    @Request.application
    def crl(request):
        served["requests"] += 1
        return Response(served["crl"], content_type="application/pkix-crl")

    server = make_server("127.0.0.1", 0, crl, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/root.crl", served
    server.shutdown()
    thread.join()


def test_a_certificate_naming_its_crl_gets_revocation_info_embedded_b_lt(
    tmp_path, office, monkeypatch, iop_data, crl_server
):
    from service.documents import render_agreement_pdf
    from service.schema import validate_agreement

    url, served = crl_server
    p12, served["crl"] = organisation_pki(url)
    (tmp_path / "org.p12").write_bytes(p12)
    app = app_with(tmp_path, office, monkeypatch, SEAL_P12=str(tmp_path / "org.p12"))
    sealer = app.extensions["seal"]
    assert sealer.level == "PAdES B-LT"

    pdf, _ = render_agreement_pdf(validate_agreement(iop_data), office, app.extensions["files"], pdfa=True)
    sealed = app.extensions["seal"].seal(pdf)
    assert served["requests"] >= 1  # fetched at sealing time, from where the certificate says
    with pikepdf.open(io.BytesIO(sealed)) as doc:
        assert len(doc.Root.DSS.CRLs) >= 1 and len(doc.Root.DSS.Certs) >= 2
    status = seal_status(sealed, sealer)
    assert status.intact and status.valid and status.trusted and status.docmdp_ok
    assert pdfa_problems(sealed) == []
    with app.extensions["db"].session() as session:
        result = verification.verify_pdf(session, sealer, sealed)
    assert result.intact and result.covers_whole_file and result.ours and not result.self_signed
