"""The service's PAdES seal (pyHanko), applied last to every frozen version and final PDF.

An invisible, certifying document seal: a zero-size widget with the Print flag and no
appearance stream (so PDF/A-2b needs no new font), and DocMDP "no changes" (later
long-term-validation updates stay allowed). PAdES B-T when a timestamp service is
configured, B-B otherwise, with revocation information embedded (B-LT) when the seal
certificate names OCSP or CRL endpoints. The seal is an incremental update: the bytes
before it stay as they were, and nothing may rewrite the PDF after it.

The key comes from AVTAL_SEAL_P12 (+ AVTAL_SEAL_PASSWORD). Without one, a self-signed
seal certificate for the organisation is made once in the instance folder: it proves
that a file is unchanged since the service sealed it, not who the organisation is.
"""

import asyncio
import datetime
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.sign import fields, signers
from pyhanko.sign.signers import constants
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from ..config import instance_file
from ..errors import Unavailable

FIELD_NAME = "Sigill"
DEFAULT_P12 = "seal.p12"
SELF_SIGNED_NOTICE = (
    "Sigillet är gjort med ett självutfärdat certifikat: det visar att filen inte har ändrats "
    "sedan tjänsten förseglade den, men inte vilken organisation som står bakom, "
    "förrän ett riktigt organisationscertifikat har konfigurerats."
)


class SealError(Unavailable):
    """The document could not be sealed (a timestamp service that did not answer, a bad key)."""

    message = "Dokumentet kunde inte förseglas. Försök igen om en stund."


class Sealer:
    """Seals PDFs with one key; knows the certificate and the PAdES level it produces."""

    def __init__(self, signer: signers.SimpleSigner, timestamper=None, validation_context=None):
        self.signer = signer
        self.timestamper = timestamper
        self.validation_context = validation_context

    @property
    def certificate(self):
        return self.signer.signing_cert

    @property
    def self_signed(self) -> bool:
        return self.certificate.self_signed != "no"

    @property
    def level(self) -> str:
        if self.validation_context is not None:
            return "PAdES B-LT"
        return "PAdES B-T" if self.timestamper is not None else "PAdES B-B"

    def certificate_pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.certificate.dump())

    def seal(self, pdf: bytes) -> bytes:
        """`pdf` with the seal appended as an incremental update."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        _producer_as_pyhanko_writes_it(writer)
        metadata = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            embed_validation_info=self.validation_context is not None,
            validation_context=self.validation_context,
        )
        signer = PdfA2Signer(metadata, signer=self.signer, timestamper=self.timestamper)
        try:
            out = outside_event_loop(lambda: signer.sign_pdf(writer))
        except TimestampRequestError as exc:
            raise SealError("Tidsstämpeltjänsten svarade inte, så dokumentet kunde inte förseglas.") from exc
        return out.getvalue()


class PdfA2Signer(signers.PdfSigner):
    """Registers only the PAdES (ESIC) extension, at PDF 1.7. pyHanko's own also registers the
    ISO 32002 extension for an ECDSA P-256 key (the self-signed seal's), which raises the catalog's
    /Version to 2.0: PDF/A-2 is ISO 32000-1, PDF 1.7. Validation does not need the extension."""

    def register_extensions(self, pdf_out, *, md_algorithm):
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(constants.ESIC_EXTENSION_1)


def outside_event_loop(call):
    """Run `call` where asyncio.run() may start a loop: pyHanko's sync API calls it, which
    fails in a thread that already runs one (an async server, Playwright's sync API)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _producer_as_pyhanko_writes_it(writer):
    """PDF/A wants the Info dictionary to agree with the XMP metadata. pyHanko writes
    only its own name as the XMP producer but appends it to the Info producer, so the
    Info producer is set to its name first (then pyHanko leaves it as it is)."""
    try:
        info = writer.trailer["/Info"]
    except KeyError:
        return
    updated = generic.DictionaryObject(info)
    updated["/Producer"] = generic.TextStringObject(VENDOR)
    writer.set_info(updated)


def load_sealer(config, instance_path) -> Sealer:
    """The sealer the configuration names: a PKCS#12 file, or the instance's own self-signed key."""
    if config["SEAL_P12"]:
        try:
            data = Path(config["SEAL_P12"]).read_bytes()
        except OSError as exc:
            raise SealError(f"Sigillnyckeln {config['SEAL_P12']} kunde inte läsas.") from exc
        password = config["SEAL_PASSWORD"].encode() or None
    else:
        data = default_p12(Path(instance_path), config["SEAL_ORGANISATION"])
        password = None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=password)
    except (ValueError, TypeError) as exc:
        raise SealError("Sigillnyckeln kunde inte öppnas: kontrollera filen och lösenordet.") from exc
    if signer is None:
        raise SealError("Sigillnyckeln kunde inte öppnas: kontrollera filen och lösenordet.")
    timestamper = HTTPTimeStamper(config["TSA_URL"]) if config["TSA_URL"] else None
    return Sealer(signer, timestamper, _revocation_context(signer))


def _revocation_context(signer):
    """For B-LT: fetch OCSP/CRL answers at sealing time, when the certificate names where."""
    certificate = signer.signing_cert
    if not (certificate.ocsp_urls or certificate.crl_distribution_points):
        return None
    chain = list(signer.cert_registry)
    roots = [c for c in chain if c.self_signed != "no"] or chain[-1:]
    return ValidationContext(trust_roots=roots, other_certs=chain, allow_fetching=True)


def default_p12(instance_path: Path, organisation: str) -> bytes:
    """The instance's self-signed seal key, made on first start."""
    return instance_file(instance_path, DEFAULT_P12, lambda: self_signed_p12(organisation))


def self_signed_p12(organisation: str) -> bytes:
    """A key and self-signed certificate for an organisation seal, as unencrypted PKCS#12
    (the instance folder already holds the service's secret key the same way)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} – sigill (självutfärdat)"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(b"seal", key, certificate, None, serialization.NoEncryption())
