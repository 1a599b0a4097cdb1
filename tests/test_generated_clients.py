"""Clients generated from the served description, as an integrator makes them: a Python client
(openapi-python-client) installed into a venv of its own that runs the whole flow, and
TypeScript types (openapi-typescript) that a small script type-checks against with tsc."""

import hashlib
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .helpers import ROOT, confirm, pdf_text

pytestmark = pytest.mark.slow  # LibreOffice makes the PDFs

FLOW = Path(__file__).with_name("client_flow.py")
TYPESCRIPT = Path(__file__).with_name("typescript")
NPM_FOLDER = ROOT / ".cache" / "npm"  # gitignored; the pinned packages are installed once
NPM_PACKAGES = ("openapi-typescript@7.13.0", "openapi-fetch@0.17.0", "typescript@5.9.3")
# openapi-python-client reads only application/octet-stream as bytes; a PDF is one more such type.
GENERATOR_CONFIG = "content_type_overrides:\n  application/pdf: application/octet-stream\n"


def served_description(base_url, folder) -> Path:
    path = folder / "openapi.json"
    with urllib.request.urlopen(f"{base_url}/api/openapi.json") as response:
        path.write_bytes(response.read())
    return path


def python_client_venv(description, folder) -> Path:
    """Generate the client, and pip-install the generated project into a fresh venv whose only
    other packages are the client's dependencies (taken from the project's venv, offline)."""
    (folder / "config.yml").write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [generator, "generate", "--path", description, "--meta", "setup", "--config", folder / "config.yml"],
        cwd=folder,
        check=True,
        capture_output=True,
        env={"PATH": f"{generator.parent}:/usr/bin:/bin"},  # it formats the code with the venv's ruff
    )
    (project,) = folder.glob("*-client")
    assert project.name == "avtalstjansten-api-client"
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (ours,) = (Path(sys.prefix) / "lib").glob("python*/site-packages")
    (site_packages / "dependencies.pth").write_text(f"{ours}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", venv / "bin/python", "install", "-q", "--no-deps"]
        + ["--no-build-isolation", "--no-index", project],
        check=True,
        capture_output=True,
    )
    return venv


def run_flow(venv, *args) -> subprocess.Popen:
    """The integration, in the client's venv, from a folder where nothing of the project is importable."""
    return subprocess.Popen(
        [venv / "bin/python", "-I", FLOW, *map(str, args)],
        cwd=venv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seen(process) -> dict:
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return json.loads(line)


def test_a_generated_python_client_runs_the_whole_flow(app, client, live_server, api_token, iop_data, tmp_path):
    venv = python_client_venv(served_description(live_server, tmp_path), tmp_path)

    start = run_flow(venv, live_server, api_token, "start", json.dumps(iop_data))
    invalid, sent = seen(start), seen(start)
    assert start.wait(60) == 0, start.stderr.read()
    assert (
        invalid["status"] == 422
        and {"pointer": "#/title", "message": "Titel får vara högst 300 tecken"} in (invalid["errors"])
    )
    assert sent["status"] == "sent" and sent["conflict"][0] == 409 and "överenskommelse" in sent["conflict"][1]
    agreement_id = sent["ids"][0]
    for url, place in zip(sent["links"], ("Kristianstad", "Malmö")):
        assert confirm(client, url, place).status_code == 200

    out = tmp_path / "final.pdf"
    finish = run_flow(venv, live_server, api_token, "finish", agreement_id, out)
    try:
        assert seen(finish)["ids"] == sent["ids"]  # pages of one, by the cursor; the sent one changed last
        assert seen(finish) == {"step": "pending", "retry_after": "2"}  # no consumer yet: final-pending
        app.extensions["jobs"].start_consumer()
        final = seen(finish)
        assert finish.wait(120) == 0, finish.stderr.read()
    finally:
        finish.kill()
        app.extensions["jobs"].stop_consumer()
    assert final["status"] == "completed" and final["pending"] >= 1
    assert final["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "Kristianstad" in pdf_text(out.read_bytes())


def npm_packages() -> Path:
    """The pinned npm packages, installed once into a gitignored folder of the repository."""
    marker = NPM_FOLDER / (".installed-" + "-".join(NPM_PACKAGES).replace("/", "_"))
    if not marker.exists():
        NPM_FOLDER.mkdir(parents=True, exist_ok=True)
        (NPM_FOLDER / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--save-exact", *NPM_PACKAGES],
            cwd=NPM_FOLDER,
            check=True,
            capture_output=True,
        )
        marker.touch()
    return NPM_FOLDER / "node_modules"


def test_typescript_types_generated_from_the_description_type_check_a_client(live_server, tmp_path):
    modules = npm_packages()
    description = served_description(live_server, tmp_path)
    work = tmp_path / "ts"
    shutil.copytree(TYPESCRIPT, work)
    (work / "node_modules").symlink_to(modules)
    subprocess.run(
        [modules / ".bin/openapi-typescript", description, "--output", work / "avtal.d.ts"],
        check=True,
        capture_output=True,
    )
    checked = subprocess.run([modules / ".bin/tsc", "--project", work], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout

    # The check has teeth: a misspelt field of a problem document fails it.
    script = work / "flow.ts"
    script.write_text(script.read_text().replace("problem.code", "problem.kod"))
    broken = subprocess.run([modules / ".bin/tsc", "--project", work], capture_output=True, text=True)
    assert broken.returncode != 0 and "kod" in broken.stdout
