import io
import os
import signal
import time

import pytest
from pypdf import PdfReader

from service.documents.convert import OfficePool, can_isolate_network

from .helpers import Listener, docx_with, docx_with_linked_image, pdf_text

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def wait_gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_converts_docx_to_pdf(office):
    pdf = office.convert(docx_with("Hej Malmö & Växjö"))
    assert pdf.startswith(b"%PDF")
    assert "Hej Malmö & Växjö" in pdf_text(pdf)


@pytest.mark.skipif(not can_isolate_network(), reason="needs root, unshare and ip for a network namespace")
def test_libreoffice_reaches_no_network_even_for_a_linked_image(office):
    """Without its own network namespace LibreOffice sent OPTIONS, HEAD and GET for the picture."""
    listener = Listener()
    try:
        pdf = office.convert(docx_with_linked_image(f"{listener.url}/intern/bild.png"))
    finally:
        listener.stop()
    assert "Länkad bild" in pdf_text(pdf)
    assert listener.requests == []


@pytest.mark.skipif(not can_isolate_network(), reason="needs root, unshare and ip for a network namespace")
def test_libreoffice_without_network_starts_in_a_deep_instance_folder(tmp_path):
    """The unix socket's path may be at most 107 bytes; an instance folder may be far longer."""
    pool = OfficePool(tmp_path / ("instans-" * 10) / ("office-" * 10), size=1, timeout=60)
    try:
        pool.start()
        assert pool.processes()[0].address.startswith("unix:")
        assert "Djupt ner" in pdf_text(pool.convert(docx_with("Djupt ner i mappträdet")))
    finally:
        pool.stop()


def test_killed_libreoffice_is_restarted_and_next_conversion_succeeds(office):
    proc = office.processes()[0]
    old_pid = proc.soffice_pid()
    os.kill(old_pid, signal.SIGKILL)
    assert wait_gone(old_pid)
    pdf = office.convert(docx_with("Efter omstart"))
    assert "Efter omstart" in pdf_text(pdf)
    new_pid = proc.soffice_pid()
    assert new_pid and new_pid != old_pid


def test_pdfa_export_declares_pdfa_2b(office):
    pdf = office.convert(docx_with("Arkiv"), pdfa=True)
    xmp = PdfReader(io.BytesIO(pdf)).xmp_metadata
    assert xmp.pdfaid_part == "2" or b"pdfaid:part>2<" in pdf or b'pdfaid:part="2"' in pdf


@pytest.mark.slow
def test_libreoffice_runs_within_a_memory_limit(office):
    office.start()
    pid = office.processes()[0].soffice_pid()
    with open(f"/proc/{pid}/limits") as f:
        limit = next(line for line in f if line.startswith("Max address space")).split()[3]
    assert int(limit) == 2048 * 1024 * 1024
