"""Load test on loopback: many parties confirming at once while officials render previews.

Starts the service as `scripts/serve --production` would (gunicorn, one worker per core,
SQLite in WAL mode) in a temporary instance and creates agreements through the API.
Then, twice side by side, `--parties` parties open their links at the same moment, read
for a moment (`--think`, seconds, uniform) and confirm: first alone, then while
`--previewers` officials render previews in a loop, to show that previews do not starve
confirmations. `--think 0 0` makes it a burst with no reading time. Bounded by
`--max-seconds`. Prints one JSON line last: requests, errors, confirm_rps,
confirm_p99_ms (with previews running), the same without previews, render_per_min, and
whether every confirmation made is in the database exactly once.
"""

import argparse
import collections
import concurrent.futures
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import sqlite3
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
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    token = out.strip().splitlines()[-1].split()[-1]
    server = subprocess.Popen(
        [
            str(VENV / "gunicorn"),
            "--workers",
            str(os.cpu_count()),
            "--threads",
            "8",
            "--timeout",
            "120",
            "--bind",
            f"127.0.0.1:{port}",
            "service.wsgi:app",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(instance / "gunicorn.log", "wb"),  # noqa: SIM115 (kept open by the child)
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
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
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


def percentile(values, fraction):
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * fraction) - 1)], 1) if ordered else None


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.errors = self.previews = 0
        self.error_statuses = collections.Counter()

    def count(self, status, ok=(200,)):
        with self.lock:
            self.requests += 1
            if status not in ok:
                self.errors += 1
                self.error_statuses[status] += 1
        return status in ok


def confirm_all(base, links, args, tally, deadline):
    """Every party at once: open, read, confirm. Returns (confirmed, seconds, confirm latencies in ms)."""
    latencies = []

    def party(url):
        if time.monotonic() > deadline:
            return False
        client = Client(base)
        path = urllib.parse.urlsplit(url).path
        status, html = client.request(path)
        if not tally.count(status):
            return False
        time.sleep(random.uniform(*args.think))  # reading the agreement, typing the place
        form = {
            "csrf_token": client.csrf(html),
            "signer_name": "Anna Andersson",
            "signer_title": "Ordförande",
            "place": "Halmstad",
            "accept": "ja",
        }
        start = time.perf_counter()
        status, _ = client.request(path + "/bekrafta", form)
        if tally.count(status):
            with tally.lock:
                latencies.append((time.perf_counter() - start) * 1000)
            return True
        return False

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parties) as pool:
        confirmed = sum(pool.map(party, links))
    return confirmed, time.perf_counter() - start, latencies


def run(base, token, password, args, instance):
    def send_agreements(first):
        links = []
        for n in range(first, first + args.agreements):
            created = api(base, token, "/api/agreements", agreement(n, args.parties))
            links += [link["url"] for link in api(base, token, f"/api/agreements/{created['id']}/send")["links"]]
        return links

    quiet_links, busy_links = send_agreements(0), send_agreements(args.agreements)
    draft_id = api(base, token, "/api/agreements", agreement(99, 3))["id"]
    deadline = time.monotonic() + args.max_seconds
    tally = Tally()

    _, _, quiet_ms = confirm_all(base, quiet_links, args, tally, deadline)

    stop = threading.Event()

    def previewer():
        client = Client(base)
        status, html = client.request("/login")
        tally.count(status)
        tally.count(
            client.request(
                "/login", {"csrf_token": client.csrf(html), "email": "last@example.se", "password": password}
            )[0]
        )  # redirects are followed
        while not stop.is_set() and time.monotonic() < deadline:
            if tally.count(client.request(f"/avtal/{draft_id}/forhandsgranska")[0]):
                with tally.lock:
                    tally.previews += 1

    preview_threads = [threading.Thread(target=previewer) for _ in range(args.previewers)]
    started = time.monotonic()
    for t in preview_threads:
        t.start()
    time.sleep(2)  # previews under way before the parties arrive
    confirmed, seconds, busy_ms = confirm_all(base, busy_links, args, tally, deadline)
    stop.set()
    for t in preview_threads:
        t.join()
    minutes = (time.monotonic() - started) / 60

    db = sqlite3.connect(f"file:{instance / 'avtal.sqlite3'}?mode=ro", uri=True)
    rows, distinct = db.execute("SELECT count(*), count(DISTINCT link_id) FROM confirmations").fetchone()
    used = db.execute("SELECT count(*) FROM signing_links WHERE used_at IS NOT NULL").fetchone()[0]
    db.close()
    made = len(quiet_ms) + len(busy_ms)
    return {
        "requests": tally.requests,
        "errors": tally.errors,
        "error_statuses": dict(tally.error_statuses),
        "parties": args.parties,
        "think_s": list(args.think),
        "confirmations": made,
        "confirm_rps": round(confirmed / seconds, 1),
        "confirm_p50_ms": percentile(busy_ms, 0.5),
        "confirm_p99_ms": percentile(busy_ms, 0.99),
        "confirm_p99_ms_without_previews": percentile(quiet_ms, 0.99),
        "render_per_min": round(tally.previews / minutes, 1),
        "confirmations_in_db_once": rows == distinct == used == made == len(quiet_links) + len(busy_links),
    }


if __name__ == "__main__":
    sys.exit(main())
