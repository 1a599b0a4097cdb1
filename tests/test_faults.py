"""Faults survived: LibreOffice or the service killed at bad moments, storage gone."""

import http.cookiejar
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from service.documents.convert import ConversionError, OfficePool
from service.documents.fill import fill_agreement
from service.models import AuditEvent, Confirmation, FinalDocument, SigningLink, Version
from service.schema import validate_agreement

from .helpers import (
    ROOT,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    docx_with,
    flat,
    free_port,
    many_parties,
    path_of,
    pdf_text,
    wait_for,
)

pytestmark = pytest.mark.slow  # LibreOffice, a browser or injected faults


def test_libreoffice_killed_during_a_conversion(tmp_path, halland_data):
    pool = OfficePool(tmp_path / "office", size=1, timeout=60)
    pool.start()
    try:
        docx = fill_agreement(validate_agreement(many_parties(halland_data, 300)))
        proc = pool.processes()[0]
        old_pid = proc.soffice_pid()
        result = {}
        worker = threading.Thread(target=lambda: result.update(pdf=pool.convert(docx)))
        worker.start()
        time.sleep(0.4)  # the conversion of ~20 pages is under way
        os.kill(old_pid, signal.SIGKILL)
        worker.join(120)
        assert "Förening nummer 299" in flat(pdf_text(result["pdf"]))  # retried on a fresh process
        assert "Förening nummer 5" in flat(pdf_text(pool.convert(fill_agreement(validate_agreement(halland_data)))))
        running = proc.own_processes()
        assert old_pid not in running
        assert list(running.values()).count("soffice.bin") == 1
    finally:
        pool.stop()
    assert proc.own_processes() == {}  # nothing left behind


def test_hung_libreoffice_is_restarted_after_the_timeout(tmp_path):
    pool = OfficePool(tmp_path / "office", size=1, timeout=3)
    pool.start()
    try:
        proc = pool.processes()[0]
        hung = proc.soffice_pid()
        os.kill(hung, signal.SIGSTOP)  # hangs, like LibreOffice at 100 % on a bad document
        assert "efteråt" in flat(pdf_text(pool.convert(docx_with("efteråt"))))
        assert hung not in proc.own_processes()
    finally:
        pool.stop()


def test_unreadable_document_gives_a_clear_error_and_the_next_one_converts(office):
    with pytest.raises(ConversionError) as info:
        office.convert(b"PK\x03\x04 not really a docx")
    assert info.value.message == "Dokumentet kunde inte läsas. Kontrollera att det är ett giltigt Word-dokument."
    assert "nästa" in flat(pdf_text(office.convert(docx_with("nästa"))))


def start_service(instance, port, run_jobs):
    """The service in a process of its own: as scripts/serve runs it (gunicorn, jobs
    running), or, with run_jobs off, a bare app whose queued jobs wait for a consumer."""
    env = dict(os.environ, AVTAL_INSTANCE=str(instance))
    if run_jobs:
        command = [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "service.wsgi:app"]
    else:
        command = [sys.executable, "-m", "flask", "--app", "service", "run", "--port", str(port), "--no-reload"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/login").status == 200
        except OSError:
            return False

    wait_for(up, seconds=60)
    return process


def http_confirm(url, place) -> int:
    """A party confirming over real HTTP, with its own cookies (for the CSRF token)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    token = csrf_token(opener.open(url).read().decode())
    form = urllib.parse.urlencode(
        {"csrf_token": token, "signer_name": "Anna", "signer_title": "", "place": place, "accept": "ja"}
    ).encode()
    return opener.open(url + "/bekrafta", data=form).status


def test_service_killed_between_last_confirmation_and_final_pdf(app, client, api_token, iop_data):
    """The queue outlives the process; the restarted service makes the final PDF once."""
    agreement_id, links = create_and_send(client, api_token, iop_data)
    instance = app.instance_path
    port = free_port()
    service = start_service(instance, port, run_jobs=False)
    try:
        for link, place in zip(links, ("Kristianstad", "Malmö")):
            assert http_confirm(f"http://127.0.0.1:{port}" + path_of(link["url"]), place) == 200
        # The last confirmation queued the job in instance/jobs.sqlite3; deliver it twice,
        # as a queue may after a crash, then kill the service before any consumer ran.
        app.extensions["jobs"].assemble_task(agreement_id)  # past enqueue_final, which queues it once
        assert app.extensions["jobs"].pending() == 2
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait()
    restarted = start_service(instance, port, run_jobs=True)
    try:
        wait_for(lambda: count(app, FinalDocument) >= 1 and app.extensions["jobs"].pending() == 0)
        time.sleep(1)
        assert count(app, FinalDocument) == 1
        assert count(app, AuditEvent, AuditEvent.event == "final_assembled") == 1
    finally:
        restarted.terminate()
        restarted.wait()


CONFIRM_THEN_HANG = """
import sys, time
from service import create_app, signing
from service.audit import Actor

app = create_app()
with app.extensions["db"].session() as session:
    signing.confirm(session, signing.link_serializer(app.config["SECRET_KEY"]), sys.argv[1],
                    "Anna", "Ordförande", "Lund", Actor("client", "127.0.0.1", "test"), max_age_days=30)
    print("inside", flush=True)
    time.sleep(120)  # killed here, before the commit
"""


def test_service_killed_during_a_confirmation(app, client, api_token, iop_data):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    token = path_of(links[0]["url"])[len("/sign/") :]
    events_before = count(app, AuditEvent)
    env = dict(os.environ, AVTAL_INSTANCE=app.instance_path)
    process = subprocess.Popen(
        [sys.executable, "-c", CONFIRM_THEN_HANG, token], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "inside"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert count(app, Confirmation) == 0
    assert count(app, SigningLink, SigningLink.used_at.is_not(None)) == 0
    assert count(app, AuditEvent) == events_before
    assert confirm(client, links[0]["url"], "Lund").status_code == 200  # the party can retry
    assert count(app, Confirmation) == 1


def test_unwritable_storage_gives_an_error_and_changes_nothing(app, client, api_token, iop_data):
    created = client.post("/api/agreements", json=iop_data, headers=bearer(api_token)).json
    events_before = count(app, AuditEvent)
    storage = app.extensions["files"].root
    storage.rename(storage.with_name("files-away"))
    storage.write_text("a file where the storage directory should be")  # unwritable even for root
    response = client.post(f"/api/agreements/{created['id']}/send", headers=bearer(api_token))
    assert response.status_code == 503
    assert response.json["message"] == "Filen kunde inte sparas: lagringen är full eller skrivskyddad."
    assert count(app, Version) == 0 and count(app, SigningLink) == 0
    assert count(app, AuditEvent) == events_before
    status = client.get(f"/api/agreements/{created['id']}", headers=bearer(api_token)).json
    assert status["status"] == "draft"
