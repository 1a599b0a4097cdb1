"""Load test on loopback: many parties confirming at once while officials render previews.

Starts the service as `scripts/serve --production` would (gunicorn, one worker per core,
SQLite in WAL mode) in a temporary instance, creates agreements through the API, then
lets `--parties` parties open and confirm their links concurrently while `--previewers`
officials render previews in a loop. Bounded by `--max-seconds`. Prints one JSON line
last: requests, errors, confirm_rps, confirm_p99_ms, render_per_min, and whether every
confirmation made is in the database exactly once.
"""

import argparse
import concurrent.futures
import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def org_number(first_nine):
    total = 0
    for i, ch in enumerate(first_nine):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"{first_nine[:6]}-{first_nine[6:]}{(10 - total % 10) % 10}"


class Client:
    """One browser-like client with its own cookies."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None, headers=None, timeout=120):
        body = None
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
        elif data is not None:
            body = data
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def csrf(self, html: bytes) -> str:
        return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()


def api(base, token, path, payload=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, body = Client(base).request(path, json.dumps(payload).encode() if payload is not None else b"", headers)
    if status >= 300:
        raise SystemExit(f"API {path} svarade {status}: {body[:300]!r}")
    return json.loads(body)


def agreement(n, parties):
    data = json.loads((ROOT / "scripts/examples/overenskommelse-halland.json").read_text(encoding="utf-8"))
    template = data["parties"][1]
    data["title"] = f"Lasttest {n}"
    data["parties"] = [
        dict(template, name=f"Förening {n}-{i}", org_number=org_number(f"80{n:02d}{i:05d}")) for i in range(parties)
    ]
    return data


def start_service(instance, port, env):
    flask = [str(VENV / "flask"), "--app", "service"]
    subprocess.run([*flask, "migrate"], env=env, check=True, capture_output=True)
    password = "lasttest-lösenord-1"
    out = subprocess.run(
        [*flask, "users", "create", "--email", "last@example.se", "--role", "official", "--password", password],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    token = out.strip().splitlines()[-1].split()[-1]
    server = subprocess.Popen(
        [str(VENV / "gunicorn"), "--workers", str(os.cpu_count()), "--threads", "8", "--timeout", "120",
         "--bind", f"127.0.0.1:{port}", "service.wsgi:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(instance / "gunicorn.log", "wb"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Client(f"http://127.0.0.1:{port}").request("/login", timeout=2)[0] == 200:
                return server, token, password
        except OSError:  # not listening yet
            pass
        time.sleep(0.3)
    raise SystemExit("Tjänsten startade inte.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=50, help="concurrent parties")
    parser.add_argument("--agreements", type=int, default=2, help="agreements, each with --parties parties")
    parser.add_argument("--previewers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AVTAL_INSTANCE=str(instance))
        server, token, password = start_service(instance, port, env)
        try:
            result = run(base, token, password, args, instance)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    print(json.dumps(result))


def run(base, token, password, args, instance):
    links = []
    for n in range(args.agreements):
        created = api(base, token, "/api/agreements", agreement(n, args.parties))
        links += [link["url"] for link in api(base, token, f"/api/agreements/{created['id']}/send")["links"]]
    draft_id = api(base, token, "/api/agreements", agreement(99, 3))["id"]

    stop = threading.Event()
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    counts = {"requests": 0, "errors": 0, "previews": 0}
    confirm_ms = []

    def tally(status, ok=(200,)):
        with lock:
            counts["requests"] += 1
            counts["errors"] += status not in ok
        return status in ok

    def previewer():
        client = Client(base)
        status, html = client.request("/login")
        tally(status)
        tally(client.request("/login", {"csrf_token": client.csrf(html), "email": "last@example.se",
                                        "password": password})[0])
        while not stop.is_set() and time.monotonic() < deadline:
            if tally(client.request(f"/avtal/{draft_id}/forhandsgranska")[0]):
                with lock:
                    counts["previews"] += 1

    def party(url):
        if time.monotonic() > deadline:
            return False
        client = Client(base)
        path = urllib.parse.urlsplit(url).path
        status, html = client.request(path)
        if not tally(status):
            return False
        form = {"csrf_token": client.csrf(html), "signer_name": "Anna Andersson", "signer_title": "Ordförande",
                "place": "Halmstad", "accept": "ja"}
        start = time.perf_counter()
        status, _ = client.request(path + "/bekrafta", form)
        elapsed = (time.perf_counter() - start) * 1000
        if tally(status):
            with lock:
                confirm_ms.append(elapsed)
            return True
        return False

    preview_threads = [threading.Thread(target=previewer) for _ in range(args.previewers)]
    started = time.monotonic()
    for t in preview_threads:
        t.start()
    time.sleep(2)  # previews under way before the parties arrive
    confirm_start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parties) as pool:
        confirmed = sum(pool.map(party, links))
    confirm_seconds = time.perf_counter() - confirm_start
    stop.set()
    for t in preview_threads:
        t.join()
    minutes = (time.monotonic() - started) / 60

    db = sqlite3.connect(f"file:{instance / 'avtal.sqlite3'}?mode=ro", uri=True)
    rows, distinct = db.execute("SELECT count(*), count(DISTINCT link_id) FROM confirmations").fetchone()
    used = db.execute("SELECT count(*) FROM signing_links WHERE used_at IS NOT NULL").fetchone()[0]
    db.close()
    ordered = sorted(confirm_ms)
    return {
        "requests": counts["requests"],
        "errors": counts["errors"],
        "parties": args.parties,
        "confirmations": confirmed,
        "confirm_rps": round(confirmed / confirm_seconds, 1),
        "confirm_p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "confirm_p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1) if ordered else None,
        "render_per_min": round(counts["previews"] / minutes, 1),
        "confirmations_in_db_once": rows == distinct == used == confirmed == len(links),
    }


if __name__ == "__main__":
    sys.exit(main())
