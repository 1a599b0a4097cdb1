"""The job queue shared by all hosts: a worker of its own, the sweep once per cluster."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from service import create_app, final
from service.models import AuditEvent, FinalDocument, Version

from .helpers import (
    ROOT,
    confirm,
    count,
    create_and_send,
    post_on_page,
    send_and_confirm,
    user_client,
    visible_text,
    wait_for,
)


@pytest.mark.slow
def test_a_separate_worker_makes_the_final_pdf(app, client, api_token, iop_data):
    """The web app runs no consumer; `flask worker` in another process takes the job."""
    agreement_id, links = create_and_send(client, api_token, iop_data)
    for link, place in zip(links, ("Kristianstad", "Malmö")):
        assert confirm(client, link["url"], place).status_code == 200
    assert app.extensions["jobs"].pending() == 1 and count(app, FinalDocument) == 0

    env = dict(os.environ, AVTAL_INSTANCE=app.instance_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "service", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: count(app, FinalDocument) == 1, seconds=120)
    finally:
        worker.terminate()
        worker.wait(30)
    assert app.extensions["jobs"].pending() == 0


def test_the_periodic_sweep_runs_once_a_minute_across_hosts(app):
    other_host = create_app({"TESTING": True}, office=app.extensions["office"])
    try:
        claims = [app.extensions["jobs"]._claim_this_minute(), other_host.extensions["jobs"]._claim_this_minute()]
    finally:
        other_host.extensions["jobs"].close()
    assert sorted(claims) == [False, True]


def queued_finals(jobs):
    return [task for task in jobs.huey.pending() if task.name == "assemble_final"]


def run_queued(jobs):
    """Run what the queue holds now, as the consumer would."""
    while (task := jobs.huey.dequeue()) is not None:
        jobs.huey.execute(task)


@pytest.mark.slow
def test_a_final_pdf_that_keeps_failing_stops_and_tells_the_officials(app, make_user, iop_data, smtp_server):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    agreement_id, _ = send_and_confirm(anna, token, iop_data)
    with app.extensions["db"].session() as session:  # data a later rule refuses: every attempt fails
        version = session.scalar(select(Version).where(Version.agreement_id == agreement_id))
        version.data = dict(version.data, notice_months=-1)
    jobs = app.extensions["jobs"]
    for _ in range(final.MAX_ATTEMPTS + 3):
        for _ in range(5):
            jobs.sweep()
        assert len(queued_finals(jobs)) <= 1
        run_queued(jobs)
    assert queued_finals(jobs) == []
    assert count(app, AuditEvent, AuditEvent.event == "final_failed") == final.MAX_ATTEMPTS
    failed = [m for m in smtp_server.messages if m["Subject"].startswith("Slutlig PDF saknas")]
    assert [m["To"].addresses[0].addr_spec for m in failed] == ["anna@example.se"]
    page = visible_text(anna.get(f"/avtal/{agreement_id}"))
    assert "Den slutliga PDF:en kunde inte skapas efter 5 försök" in page


@pytest.mark.slow
def test_a_handlaggare_retries_a_final_pdf_that_was_given_up(app, make_user, iop_data, smtp_server):
    anna, token = user_client(app, make_user, "official", "anna@example.se")
    bertil, _ = user_client(app, make_user, "official", "bertil@example.se")
    agreement_id, _ = send_and_confirm(anna, token, iop_data)
    with app.extensions["db"].session() as session:
        version = session.scalar(select(Version).where(Version.agreement_id == agreement_id))
        good, version.data = version.data, dict(version.data, notice_months=-1)
    jobs = app.extensions["jobs"]
    for _ in range(final.MAX_ATTEMPTS):
        jobs.sweep()
        run_queued(jobs)
    page_url, retry_url = f"/avtal/{agreement_id}", f"/avtal/{agreement_id}/slutlig/forsok-igen"
    assert "Försök igen" not in visible_text(bertil.get(page_url))  # not a handläggare
    post_on_page(bertil, page_url, retry_url)
    assert "kunde inte skapas efter 5 försök" in visible_text(anna.get(page_url))

    with app.extensions["db"].session() as session:  # the fault is mended
        session.scalar(select(Version).where(Version.agreement_id == agreement_id)).data = good
    assert post_on_page(anna, page_url, retry_url).status_code == 302
    page = visible_text(anna.get(page_url))
    assert "Den slutliga PDF:en görs nu igen" in page and "kunde inte skapas" not in page
    run_queued(jobs)
    assert count(app, FinalDocument, FinalDocument.agreement_id == agreement_id) == 1
    assert count(app, AuditEvent, AuditEvent.event == "final_retried") == 1
    again = post_on_page(anna, page_url, retry_url)  # nothing is given up any more
    assert "väntar inte på ett nytt försök" in visible_text(anna.get(again.headers["Location"]))
