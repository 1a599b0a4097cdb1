"""The many-machines layout, each part its own process (scripts/cluster), under load and faults."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow  # LibreOffice in host processes of their own


@pytest.fixture
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="avtal-cluster-"))
    folder.chmod(0o711)  # PostgreSQL's own user keeps its data in a folder in here
    started = subprocess.run(
        [sys.executable, "scripts/cluster.py", "start", "--dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr
    hosts = started.stdout.split("Webbvärdar: ")[1].split()[0]
    yield folder, hosts
    subprocess.run([sys.executable, "scripts/cluster.py", "stop", "--dir", str(folder)], cwd=ROOT, timeout=120)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_web_host_and_a_libreoffice_host_die_mid_run(cluster):
    """Every party confirms (retrying on the other host), each exactly once in PostgreSQL,
    and every final PDF is made by the worker through the LibreOffice host left."""
    folder, hosts = cluster
    command = [sys.executable, "scripts/load.py", "--hosts", hosts, "--cluster-dir", str(folder)]
    command += ["--parties", "12", "--agreements", "2", "--think", "0.2", "1", "--kill-mid-run", "--previewers", "1"]
    command += ["--big-parties", "0"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "killed web host" in run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["database"] == "postgresql+psycopg"
    assert result["errors"] == 0, result["error_statuses"]
    assert result["confirmed_by_parties"] == 48 and result["confirmations_in_db_once"]
    assert result["final_pdfs"] == result["final_pdfs_expected"] == 4
