"""LibreOffice on other hosts (AVTAL_OFFICE_HOSTS): scripts/office-host processes on loopback."""

import os
import signal
import threading
import time

import pytest

from scripts.servers import OfficeHostServer
from service.documents.convert import ConversionError, OfficeHosts
from service.documents.fill import fill_agreement
from service.schema import validate_agreement

from .helpers import docx_with, flat, free_port, many_parties, pdf_text, processes_mentioning, wait_for

pytestmark = pytest.mark.slow  # LibreOffice in host processes of their own


@pytest.fixture
def two_hosts(tmp_path):
    hosts = [OfficeHostServer(tmp_path / f"host-{i}").launch() for i in (1, 2)]
    for host in hosts:
        host.wait_until_ready()
    yield hosts
    for host in hosts:
        host.stop()


def test_conversions_go_to_the_hosts_and_the_bytes_travel(two_hosts):
    office = OfficeHosts([h.address for h in two_hosts], timeout=60)
    results = {}
    threads = [
        threading.Thread(target=lambda i=i: results.update({i: office.convert(docx_with(f"dokument {i}"))}))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [f"dokument {i}" in pdf_text(results[i]) for i in range(4)] == [True] * 4
    assert office.unreachable() == []


def test_a_host_dying_mid_conversion_passes_the_document_to_the_next(two_hosts, halland_data):
    conversions = []
    office = OfficeHosts(
        [h.address for h in two_hosts], timeout=60, on_conversion=lambda *report: conversions.append(report)
    )
    docx = fill_agreement(validate_agreement(many_parties(halland_data, 300)))
    result = {}
    worker = threading.Thread(target=lambda: result.update(pdf=office.convert(docx)))
    worker.start()
    busy = wait_for(lambda: [h for h in office.hosts if h.busy], seconds=10, interval=0.01)[0]
    time.sleep(0.3)  # the conversion of ~20 pages is under way
    dying = next(h for h in two_hosts if h.address == busy.address)
    dying.kill()
    worker.join(120)

    assert "Förening nummer 299" in flat(pdf_text(result["pdf"]))
    assert [(address, ok) for address, _, ok in conversions] == [
        (dying.address, False),
        (next(h.address for h in two_hosts if h is not dying), True),
    ]
    assert office.unreachable() == [dying.address]
    assert "sedan" in pdf_text(office.convert(docx_with("sedan")))  # the dead host is passed over


def test_no_host_reachable_is_a_clear_error(tmp_path):
    office = OfficeHosts([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], timeout=5)
    with pytest.raises(ConversionError) as info:
        office.convert(docx_with("ingen"))
    assert info.value.message == "Dokumentet kunde inte omvandlas till PDF. Försök igen om en stund."
    assert len(office.unreachable()) == 2


def test_an_unreadable_document_is_not_sent_on_to_the_next_host(two_hosts):
    conversions = []
    office = OfficeHosts([h.address for h in two_hosts], on_conversion=lambda *report: conversions.append(report))
    with pytest.raises(ConversionError) as info:
        office.convert(b"PK\x03\x04 not really a docx")
    assert info.value.message == "Dokumentet kunde inte läsas. Kontrollera att det är ett giltigt Word-dokument."
    assert len(conversions) == 1


def test_a_host_restarts_its_libreoffice_after_a_crash(two_hosts):
    host = two_hosts[0]
    office = OfficeHosts([host.address], timeout=60)
    soffice = [p for p in processes_mentioning(str(host.folder)) if _name(p) == "soffice.bin"]
    os.kill(soffice[0], signal.SIGKILL)
    assert "igen" in wait_for(lambda: _converted(office, "igen"), seconds=90, interval=1)


def _name(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _converted(office, text):
    try:
        return pdf_text(office.convert(docx_with(text)))
    except ConversionError:
        return None
