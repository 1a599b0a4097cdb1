"""Load test on loopback: parties opening their links as browsers do, while officials render previews.

Starts the service as `scripts/serve --production` would (gunicorn, one worker per core,
SQLite in WAL mode) in a temporary instance and creates agreements through the API.
Each party loads its page and everything the page references (stylesheet, script and
every page picture, six at a time), reads for a moment (`--think`, seconds, uniform) and
confirms. Side by side in one run:

1. `--parties` parties open their links at the same moment, with no previews running;
2. the same again while `--previewers` officials render previews in a loop;
   (each phase starts once the final PDFs of the one before are made: assembling them is
   heavy work in the service's own processes, measured by scripts/bench, not here)
3. server CPU per view, from gunicorn's own CPU counters, over `--repeat-views` views of
   one page: by new browsers (page and every picture downloaded), and repeat views by one
   browser (every asset revalidated with its ETag, answered 304);
4. one agreement with `--big-parties` parties, all opening it within `--big-spread` seconds.

`--think 0 0` makes it a burst with no reading time. Bounded by `--max-seconds`. Prints
one JSON line last: view_p50_ms and view_p99_ms (page plus everything it loads) and
confirm_p99_ms with previews running, the same without, bytes_per_view,
server_cpu_ms_per_view, server_cpu_ms_per_repeat_view, big_view_p99_ms, errors, and whether every confirmation
made is in the database exactly once.

`--hosts URL,URL` runs against web hosts already running (scripts/cluster start): the
parties are spread over the hosts, a party whose host is gone goes on on the next, and
exactly-once is checked in the cluster's database. `--kill-mid-run` kills one web host
and one LibreOffice host when half the parties have sent their confirmation, and the
result says how many final PDFs were made.
"""

import argparse
import collections
import concurrent.futures
import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html import unescape as html_unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

from benchlib import org_number  # noqa: E402
from cluster import migrate_with_official  # noqa: E402
from servers import free_port, processes_mentioning  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402


class Client:
    """One browser-like client with its own cookies; given several hosts, it starts on the
    first and moves to the next when its host does not answer (sessions hold on every host)."""

    def __init__(self, base, *others):
        self.bases = [base, *others]
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None, headers=None, timeout=120):
        for _ in self.bases:
            try:
                return self._request(path, data, headers, timeout)
            except OSError:  # host gone: the next one
                if len(self.bases) == 1:
                    raise
                self.bases = self.bases[1:] + self.bases[:1]
                self.base = self.bases[0]
        raise OSError("no host answered")

    def _request(self, path, data=None, headers=None, timeout=120):
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

    @staticmethod
    def csrf(html: bytes) -> str:
        return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()


class Browser:
    """One party's browser: its cookies and up to six keep-alive connections, used in parallel.
    Given several hosts it starts on the first and moves to the next when its host is gone;
    a form sent to a host that died answers status 0 (the caller opens the page again)."""

    def __init__(self, base, *others):
        self.bases = [base, *others]
        self._use(base)
        self.lock = threading.Lock()
        self.cookies = {}
        self.idle = []

    def _use(self, base):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port

    def request(self, path, data=None, headers=None):
        """(status, body, ETag); a form in `data` is POSTed."""
        for _ in self.bases:
            try:
                return self._request(path, data, headers)
            except OSError:
                if len(self.bases) == 1:
                    raise
                with self.lock:
                    self.bases = self.bases[1:] + self.bases[:1]
                    self._use(self.bases[0])
                    self.idle.clear()
                if data is not None:
                    return 0, b"", None
        raise OSError("no host answered")

    def _request(self, path, data=None, headers=None):
        headers = dict(headers or {})
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            reused = self.idle.pop() if self.idle else None
        conn = reused or http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request("GET" if body is None else "POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            if reused is None:
                raise
            return self._request(path, data, headers)  # the server had closed an idle connection
        with self.lock:
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            if response.will_close:
                conn.close()
            else:
                self.idle.append(conn)
        return response.status, payload, response.headers.get("ETag")

    def close(self):
        for conn in self.idle:
            conn.close()


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
    password = "lasttest-lösenord-1"
    token = migrate_with_official(env, password)
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
    parser.add_argument("--agreements", type=int, default=1, help="agreements, each with --parties parties")
    parser.add_argument("--previewers", type=int, default=2)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--big-parties", type=int, default=200, help="parties of the one large agreement (0: skip)")
    parser.add_argument("--big-spread", type=float, default=60, help="seconds over which they all open it")
    parser.add_argument("--repeat-views", type=int, default=30, help="repeat views measured for server CPU")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--hosts", help="web hosts already running, comma-separated (scripts/cluster start)")
    parser.add_argument("--cluster-dir", type=Path, help="where scripts/cluster keeps cluster.json")
    parser.add_argument("--kill-mid-run", action="store_true", help="with --hosts: kill a web and a LibreOffice host")
    args = parser.parse_args()

    if args.hosts:
        from cluster import DEFAULT_DIR, load_state

        state = load_state(args.cluster_dir or DEFAULT_DIR)
        bases = [h.strip().rstrip("/") for h in args.hosts.split(",")]
        faults = (lambda: kill_hosts(state, bases)) if args.kill_mid_run else None
        print(json.dumps(run(bases, state["token"], state["password"], args, state["database_url"], None, faults)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AVTAL_INSTANCE=str(instance))
        server, token, password = start_service(instance, port, env)
        try:
            result = run([base], token, password, args, f"sqlite:///{instance / 'avtal.sqlite3'}", server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    print(json.dumps(result))


def kill_hosts(state, bases):
    """The fault: the last web host and the first LibreOffice host die at once (SIGKILL)."""
    web = next(h for h in state["web_hosts"] if h["url"] == bases[-1])
    os.killpg(web["pid"], signal.SIGKILL)
    address, office = next(iter(state["office_hosts"].items()))
    for pid in [office["pid"], *processes_mentioning(office["folder"])]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    print(f"killed web host {web['url']} and LibreOffice host {address}", file=sys.stderr)


def wait_for_finals(database_url, count, seconds=300) -> int:
    """Wait until `count` agreements have a final PDF (or time is up); returns how many have.
    Assembling one is heavy work in the service's own processes, which would otherwise land
    in the next phase's figures."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as db:
                made = db.execute(text("SELECT count(DISTINCT agreement_id) FROM final_documents")).scalar()
            if made >= count or time.monotonic() > deadline:
                return made
            time.sleep(1)
    finally:
        engine.dispose()


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


ASSET = re.compile(rb'<(?:img|script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')


def assets(html: bytes) -> list[str]:
    """What a browser loads with the page: stylesheets, scripts and every picture's src."""
    return [html_unescape(m.group(1).decode()) for m in ASSET.finditer(html) if m.group(1).startswith(b"/")]


def view(client, path, tally, conditional=None):
    """Load the page and everything it references, six at a time as a browser does.
    Returns (html, bytes, ms), or None on an error. `conditional` maps an asset to the
    validator a browser would revalidate it with (a repeat view)."""
    start = time.perf_counter()
    status, html, _ = client.request(path)
    if not tally.count(status):
        return None
    urls = assets(html)

    def fetch(url):
        headers = {"If-None-Match": conditional[url]} if conditional and conditional.get(url) else {}
        return client.request(url, headers=headers)

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(fetch, urls))
    ms = (time.perf_counter() - start) * 1000
    ok = all(tally.count(status, ok=(200, 304)) for status, _, _ in answers)
    size = len(html) + sum(len(body) for _, body, _ in answers)
    return (html, size, ms, dict(zip(urls, (etag for _, _, etag in answers)))) if ok else None


def confirm_all(bases, links, args, tally, deadline, spread=0.0, midway=None):
    """Every party opens its link (all at once, or each at a random moment within `spread`
    seconds), loads the page as a browser does, reads, and confirms; the parties are spread
    over the hosts, and `midway` runs when half of them have sent their confirmation.
    Returns (confirmed, seconds, view latencies, confirm latencies, bytes per view)."""
    views, confirms, sizes = [], [], []
    sent = threading.Semaphore(0)

    def party(numbered):
        i, url = numbered
        time.sleep(random.uniform(0, spread))
        if time.monotonic() > deadline:
            return False
        client = Browser(*bases[i % len(bases) :], *bases[: i % len(bases)])
        path = urllib.parse.urlsplit(url).path
        loaded = view(client, path, tally)
        if loaded is None:
            return False
        html, size, ms, _ = loaded
        with tally.lock:
            views.append(ms)
            sizes.append(size)
        time.sleep(random.uniform(*args.think))  # reading the agreement, typing the place
        try:
            return answer(client, path, html)
        finally:
            client.close()

    def answer(client, path, html):
        for _ in range(3):
            form = {
                "csrf_token": Client.csrf(html),
                "signer_name": "Anna Andersson",
                "signer_title": "Ordförande",
                "place": "Halmstad",
                "accept": "ja",
            }
            start = time.perf_counter()
            status, _, _ = client.request(path + "/bekrafta", form)
            sent.release()
            if status == 0:  # the host died under the form: open the link again on the next
                status, html, _ = client.request(path)
                if status == 409:  # the confirmation was stored before the host died
                    return True
                continue
            if tally.count(status):
                with tally.lock:
                    confirms.append((time.perf_counter() - start) * 1000)
                return True
            return False
        return False

    def at_midway():
        for _ in range(len(links) // 2):
            sent.acquire()
        midway()

    if midway:
        threading.Thread(target=at_midway, daemon=True).start()
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(links)) as pool:
        confirmed = sum(pool.map(party, enumerate(links)))
    return confirmed, time.perf_counter() - start, views, confirms, sizes


def server_cpu_seconds(pid) -> float:
    """CPU time of gunicorn's master and workers (not of the LibreOffice processes they start)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for p in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def view_cpu_ms(base, url, count, tally, server_pid) -> dict:
    """Server CPU per view of a page whose pictures are made: by a new browser that downloads
    the page and every picture, and by one that has them and revalidates each (304)."""
    path = urllib.parse.urlsplit(url).path
    client = Browser(base)
    etags = view(client, path, tally)[3]
    for _ in range(3):  # warm: the process caches the rendition row and its text
        view(Browser(base), path, tally)
    result = {}
    for name, make_view in (
        ("server_cpu_ms_per_view", lambda: view(Browser(base), path, tally)),
        ("server_cpu_ms_per_repeat_view", lambda: view(client, path, tally, etags)),
    ):
        before = server_cpu_seconds(server_pid)
        for _ in range(count):
            make_view()
        result[name] = round((server_cpu_seconds(server_pid) - before) * 1000 / count, 1)
    return result


def run(bases, token, password, args, database_url, server_pid, faults=None):
    """The run over `bases` (web hosts); server CPU is measured when `server_pid` is ours."""
    base = bases[0]

    def send_agreements(first, count, parties):
        links = []
        for n in range(first, first + count):
            created = api(base, token, "/api/agreements", agreement(n, parties))
            links += [link["url"] for link in api(base, token, f"/api/agreements/{created['id']}/send")["links"]]
        return links

    load_before = os.getloadavg()[0]
    quiet_links = send_agreements(0, args.agreements, args.parties)
    busy_links = send_agreements(args.agreements, args.agreements, args.parties)
    repeat_link = send_agreements(50, 1, 2)[0]
    big_links = send_agreements(60, 1, args.big_parties) if args.big_parties else []
    draft_id = api(base, token, "/api/agreements", agreement(99, 3))["id"]
    deadline = time.monotonic() + args.max_seconds
    tally = Tally()

    for _ in range(4):  # a running service is warm: templates compiled, each worker's caches filled
        view(Browser(base), urllib.parse.urlsplit(repeat_link).path, tally)
    _, _, quiet_views, quiet_ms, sizes = confirm_all(bases, quiet_links, args, tally, deadline)
    wait_for_finals(database_url, args.agreements)

    stop = threading.Event()

    def previewer():
        client = Client(*bases)
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
    confirmed, seconds, busy_views, busy_ms, busy_sizes = confirm_all(
        bases, busy_links, args, tally, deadline, midway=faults
    )
    stop.set()
    for t in preview_threads:
        t.join()
    minutes = (time.monotonic() - started) / 60
    finals = wait_for_finals(database_url, 2 * args.agreements)

    cpu_ms = view_cpu_ms(base, repeat_link, args.repeat_views, tally, server_pid) if server_pid else {}
    big = confirm_all(bases, big_links, args, tally, deadline, spread=args.big_spread) if big_links else None

    engine = create_engine(database_url)
    with engine.connect() as db:
        rows, distinct = db.execute(text("SELECT count(*), count(DISTINCT link_id) FROM confirmations")).one()
        used = db.execute(text("SELECT count(*) FROM signing_links WHERE used_at IS NOT NULL")).scalar()
    engine.dispose()
    result = {
        "hosts": len(bases),
        "database": database_url.partition(":")[0],
        "requests": tally.requests,
        "errors": tally.errors,
        "error_statuses": dict(tally.error_statuses),
        "parties": args.parties,
        "think_s": list(args.think),
        "view_p50_ms": percentile(busy_views, 0.5),
        "view_p99_ms": percentile(busy_views, 0.99),
        "confirm_p50_ms": percentile(busy_ms, 0.5),
        "confirm_p99_ms": percentile(busy_ms, 0.99),
        "view_p50_ms_without_previews": percentile(quiet_views, 0.5),
        "view_p99_ms_without_previews": percentile(quiet_views, 0.99),
        "confirm_p99_ms_without_previews": percentile(quiet_ms, 0.99),
        "bytes_per_view": round(statistics.median(sizes + busy_sizes)),
        **cpu_ms,
        "confirm_rps": round(confirmed / seconds, 1),
        "render_per_min": round(tally.previews / minutes, 1),
        "confirmations_in_db_once": rows == distinct == used == len(quiet_links) + len(busy_links) + len(big_links),
        "confirmed_by_parties": confirmed + len(quiet_ms) + (big[0] if big else 0),
        "machine_load_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # a shared machine: say how busy
    }
    if faults:
        result.update(final_pdfs=finals, final_pdfs_expected=2 * args.agreements)
    if big:
        _, big_seconds, big_views, big_ms, _ = big
        result.update(
            big_parties=args.big_parties,
            big_views=len(big_views),
            big_seconds=round(big_seconds, 1),
            big_view_p50_ms=percentile(big_views, 0.5),
            big_view_p99_ms=percentile(big_views, 0.99),
            big_confirm_p99_ms=percentile(big_ms, 0.99),
        )
    return result


if __name__ == "__main__":
    sys.exit(main())
