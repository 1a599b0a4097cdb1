"""The many-machines layout on this one machine, each part a process of its own:
PostgreSQL, an S3-compatible object store (SeaweedFS), 2 LibreOffice hosts, 2 web hosts
(gunicorn, different ports) and 1 worker, all on loopback.

    scripts/cluster start [--dir DIR]   starts them, writes DIR/cluster.json, prints the URLs
    scripts/cluster stop [--dir DIR]    stops every process it started

DIR defaults to /tmp/avtal-cluster. scripts/load --hosts URL,URL reads DIR/cluster.json
for the official's token and the database to check exactly-once in.
"""

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers import ObjectStoreServer, OfficeHostServer, PostgresServer, free_port  # noqa: E402

VENV = ROOT / ".venv" / "bin"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "avtal-cluster"  # PostgreSQL's user must reach it
PASSWORD = "kluster-lösenord-1"


def _wait_http(url, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} svarade inte.")


def _spawn(command, env, log):
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True
        )


def start_web_host(state, port):
    env = dict(os.environ, **state["env"], AVTAL_METRICS_BIND=f"127.0.0.1:{free_port()}")
    command = [str(VENV / "gunicorn"), "--workers", "1", "--threads", "16", "--timeout", "120"]
    log = Path(state["dir"]) / f"web-{port}.log"
    process = _spawn([*command, "--bind", f"127.0.0.1:{port}", "service.wsgi:app"], env, log)
    _wait_http(f"http://127.0.0.1:{port}/readyz")
    return {"pid": process.pid, "url": f"http://127.0.0.1:{port}", "metrics": env["AVTAL_METRICS_BIND"]}


def migrate_with_official(env, password) -> str:
    """Migrate the database `env` names and create an official with `password`; returns the
    official's API token, as `flask users create` prints it."""
    flask = [str(VENV / "flask"), "--app", "service"]
    subprocess.run([*flask, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    created = subprocess.run(
        [*flask, "users", "create", "--email", "last@example.se", "--role", "official", "--password", password],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return created.strip().splitlines()[-1].split()[-1]


def start(folder: Path, web_hosts=2, office_hosts=2) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)  # PostgreSQL's own user must reach its folder inside
    if (folder / "cluster.json").exists():
        raise SystemExit(f"Klustret i {folder} körs redan (scripts/cluster stop först).")
    offices = [OfficeHostServer(folder / f"office-{i}").launch() for i in range(1, office_hosts + 1)]
    postgres = PostgresServer(folder / "postgres").start()  # while LibreOffice starts
    postgres.create_database("avtal")
    store = ObjectStoreServer(folder / "s3").start()
    for office in offices:
        office.wait_until_ready()
    state = {
        "dir": str(folder),
        "database_url": postgres.url("avtal"),
        "env": {
            "AVTAL_INSTANCE": str(folder / "instance"),
            "AVTAL_SECRET_KEY": secrets.token_hex(32),  # the same on every host
            "AVTAL_DATABASE_URL": postgres.url("avtal"),
            "AVTAL_STORAGE_URL": "s3://avtal/files",
            "AVTAL_OFFICE_HOSTS": ",".join(o.address for o in offices),
            "AVTAL_WEB_RUNS_JOBS": "0",
            **store.environment(),
        },
        "pids": {"postgres": postgres.process.pid, "s3": store.process.pid},
        "office_hosts": {o.address: {"pid": o.process.pid, "folder": str(o.folder)} for o in offices},
    }
    env = dict(os.environ, **state["env"])
    state["token"], state["password"] = migrate_with_official(env, PASSWORD), PASSWORD
    state["web_hosts"] = [start_web_host(state, free_port()) for _ in range(web_hosts)]
    worker = _spawn([str(VENV / "flask"), "--app", "service", "worker"], env, folder / "worker.log")
    state["pids"]["worker"] = worker.pid
    (folder / "cluster.json").write_text(json.dumps(state, indent=1))
    return state


def load_state(folder: Path) -> dict:
    return json.loads((folder / "cluster.json").read_text())


def stop(folder: Path):
    state = load_state(folder)
    pids = [h["pid"] for h in state["web_hosts"]] + [state["pids"]["worker"]]
    pids += [o["pid"] for o in state["office_hosts"].values()] + [state["pids"]["postgres"]]
    # Killed, not stopped, as ObjectStoreServer.remove does: weed's filer waits some 25 s
    # over a clean exit, and the cluster's data is thrown away.
    _signal_group(state["pids"]["s3"], signal.SIGKILL)
    for pid in pids:  # each leads a process group of its own
        _signal_group(pid, signal.SIGTERM)
    for pid in pids:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
    (folder / "cluster.json").unlink()


def _signal_group(pid, signum):
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie of ours is gone for this purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    if args.action == "stop":
        stop(args.dir)
        print("Klustret är stoppat.")
        return
    state = start(args.dir)
    hosts = ",".join(h["url"] for h in state["web_hosts"])
    print(f"Webbvärdar: {hosts}")
    print(f"LibreOffice-värdar: {state['env']['AVTAL_OFFICE_HOSTS']}")
    print(f"Databas: {state['database_url']}")
    print(f"Mätvärden: {', '.join(h['metrics'] for h in state['web_hosts'])}")
    print(f"Lasttest: scripts/load --hosts {hosts}")


if __name__ == "__main__":
    main()
