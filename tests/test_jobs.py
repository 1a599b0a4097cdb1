"""The job queue shared by all hosts: a worker of its own, the sweep once per cluster."""

import os
import subprocess
import sys

import pytest

from service import create_app
from service.models import FinalDocument

from .helpers import ROOT, confirm, count, create_and_send, wait_for


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
