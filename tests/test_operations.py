"""Health, readiness, metrics, request ids and JSON logs; refusing to start on a bad setting."""

import json
import logging
import os
import subprocess
import sys
import urllib.request

import pytest

from service.operations import logs, metrics

from .helpers import ROOT, confirm, create_and_send, free_port


def test_healthz_and_readyz_when_everything_answers(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"database": "ok", "queue": "ok", "storage": "ok", "office": "ok"}


def test_readyz_names_the_part_that_is_down_and_keeps_the_details_in_the_log(app, client, caplog):
    root = app.extensions["files"].root
    root.mkdir(parents=True, exist_ok=True)
    root.rename(root.with_name("files-away"))
    root.write_text("a file where the storage directory should be")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"database": "ok", "queue": "ok", "storage": "otillgänglig", "office": "ok"}
    assert "not ready: storage: Filen kunde inte sparas" in caplog.text


def test_every_response_carries_a_request_id_and_its_log_line_too(client, caplog):
    caplog.set_level(logging.INFO, logger="avtal.request")
    given = client.get("/login", headers={"X-Request-Id": "lb-1234"})
    assert given.headers["X-Request-Id"] == "lb-1234"
    made = client.get("/login", headers={"X-Request-Id": "not ok"})
    assert len(made.headers["X-Request-Id"]) == 32
    lines = [json.loads(logs.JsonFormatter().format(r)) for r in caplog.records if r.name == "avtal.request"]
    assert lines[0]["request_id"] == "lb-1234"
    assert {k: lines[0][k] for k in ("msg", "method", "route", "status")} == {
        "msg": "request",
        "method": "GET",
        "route": "/login",
        "status": 200,
    }


@pytest.mark.slow
def test_metrics_on_their_own_bind(app, client, api_token, iop_data, monkeypatch):
    agreement_id, links = create_and_send(client, api_token, iop_data)
    confirm(client, links[0]["url"], "Lund")
    app.config["METRICS_BIND"] = f"127.0.0.1:{free_port()}"
    server = metrics.serve(app)
    try:
        text = urllib.request.urlopen(f"http://{app.config['METRICS_BIND']}/metrics").read().decode()
    finally:
        server.shutdown()
    assert 'avtal_request_seconds_count{method="POST",route="/sign/<token>/bekrafta"} 1.0' in text
    assert 'avtal_link_events_total{event="confirmed"} 1.0' in text
    assert 'avtal_link_events_total{event="link_issued"} 2.0' in text
    assert 'avtal_conversion_seconds_count{host="local"}' in text
    assert "avtal_queue_depth 0.0" in text
    assert "/metrics" not in [r.rule for r in app.url_map.iter_rules()]  # not on the public port


def test_invented_methods_get_405_and_add_no_series(app, client):
    statuses = {client.open(path, method=f"FOO{i}").status_code for i in range(50) for path in ("/login", "/x")}
    assert statuses == {405}
    assert client.open("/login", method="GET").status_code == 200
    methods = {
        sample.labels["method"]
        for family in app.extensions["metrics"].registry.collect()
        if family.name == "avtal_request_seconds"
        for sample in family.samples
    }
    assert methods == {"GET", "OTHER"}


def _start(env_changes, command):
    env = dict(os.environ, **env_changes)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_wrong_database_url_stops_the_start_and_names_the_setting(tmp_path):
    result = _start(
        {
            "AVTAL_INSTANCE": str(tmp_path),
            "AVTAL_DATABASE_URL": f"postgresql+psycopg://avtal@127.0.0.1:{free_port()}/x",
        },
        [sys.executable, "-c", "import service.wsgi"],
    )
    assert result.returncode == 1
    assert "AVTAL_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_office_host_or_object_store_stops_the_worker(tmp_path):
    result = _start(
        {
            "AVTAL_INSTANCE": str(tmp_path),
            "AVTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "AVTAL_OFFICE_HOSTS": f"127.0.0.1:{free_port()}",
            "AVTAL_STORAGE_URL": "s3://avtal/x",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
        },
        [sys.executable, "-m", "flask", "--app", "service", "worker"],
    )
    assert result.returncode == 1
    assert "AVTAL_OFFICE_HOSTS: " in result.stderr and "AVTAL_STORAGE_URL: " in result.stderr


def test_importing_the_entry_point_starts_nothing(tmp_path, database_url):
    """gunicorn.conf.py starts the threads in each server worker; a shell or a tool that
    imports service.wsgi gets the app and nothing running beside it."""
    command = "import sys, threading, service.wsgi; print(threading.active_count(), sys.getswitchinterval())"
    result = _start(
        {"AVTAL_INSTANCE": str(tmp_path), "AVTAL_DATABASE_URL": database_url, "AVTAL_METRICS_BIND": ""},
        [sys.executable, "-c", command],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", str(sys.getswitchinterval())]
