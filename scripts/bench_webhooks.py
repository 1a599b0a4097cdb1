"""Webhooks on loopback, through the service's own job queue, to a receiver that verifies
every delivery with the standardwebhooks package.

deliveries_per_s_{1,4}_workers  N events fanned out and delivered, with one and four queue workers
confirm_to_webhook_{p50,p99}_ms from posting a party's confirmation (the sign page's form) to its
                                party.confirmed webhook arriving, with a pause between confirmations as
                                between real people (of_which_confirm_request: the POST's own time)
after_idle_ms_poll_{10,1}_s     the same for a confirmation after a quiet spell, with Huey's own idle
                                polling (backing off up to 10 s) and the service's (up to 1 s), side by side
"""

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import migrated_app, official  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from service import audit, webhooks  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402
from service.models import AuditEvent  # noqa: E402


class Receiver:
    """Verifies each delivery and notes when it arrived."""

    def __init__(self):
        self.secret = None
        self.arrivals = {}  # webhook-id -> (monotonic time, payload)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                with receiver.lock:
                    receiver.arrivals[self.headers["webhook-id"]] = (time.monotonic(), payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def confirmed(self):
        with self.lock:
            return {p["data"]["party"]: t for t, p in self.arrivals.values() if p["type"] == "party.confirmed"}


def luhn_org_number(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"{nine[:6]}-{nine[6:]}{(10 - total % 10) % 10}"


def wait_until(predicate, seconds=300):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.002)


def throughput(app, receiver, n, workers):
    """Deliveries per second for n events recorded in one transaction."""
    jobs = app.extensions["jobs"]
    jobs.start_consumer(workers=workers)
    try:
        before = receiver.count()
        with app.extensions["db"].session() as session:
            template = session.query(AuditEvent).filter_by(event="confirmed").first()
            start = time.monotonic()
            for i in range(n):
                details = dict(template.details, party=f"Förening {workers}-{i}")
                audit.record(session, "confirmed", audit.Actor("bench"), template.agreement_id, **details)
        wait_until(lambda: receiver.count() >= before + n)
        return n / (time.monotonic() - start)
    finally:
        jobs.stop_consumer()


POST_MS = []  # how long the confirmation request itself took, of the latency above


def confirm_latencies(app, client, links, pause, poll_max):
    """Milliseconds from each confirmation's POST to its webhook's arrival."""
    jobs = app.extensions["jobs"]
    app.config["JOBS_POLL_MAX_SECONDS"] = poll_max
    jobs.start_consumer(workers=1)
    time.sleep(pause)
    samples = []
    try:
        for link in links:
            path = link["url"][link["url"].index("/sign/") :]
            page = client.get(path).get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            form = {
                "csrf_token": csrf,
                "signer_name": "Anna Andersson",
                "signer_title": "Ordförande",
                "place": "Halmstad",
            }
            form["accept"] = "ja"
            start = time.monotonic()
            assert client.post(path + "/bekrafta", data=form).status_code == 200
            POST_MS.append((time.monotonic() - start) * 1000)
            wait_until(lambda party=link["party"]: party in receiver_of(app).confirmed())
            samples.append((receiver_of(app).confirmed()[link["party"]] - start) * 1000)
            time.sleep(pause)
    finally:
        jobs.stop_consumer()
    return samples


def receiver_of(app):
    return app.extensions["bench_receiver"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000, help="events for the throughput runs")
    parser.add_argument("--parties", type=int, default=40, help="parties, each confirming once")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between confirmations")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of quiet before an after-idle sample")
    parser.add_argument("--idle-samples", type=int, default=3, help="after-idle samples per polling setting")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1)
        office.start()
        try:
            app = migrated_app(Path(tmp) / "instance", {"TESTING": True}, office)
            receiver = Receiver()
            app.extensions["bench_receiver"] = receiver
            _, _, token = official(app.extensions["db"])
            with app.extensions["db"].session() as session:
                _, receiver.secret = webhooks.add_endpoint(
                    session, receiver.url, list(webhooks.TYPE_LABELS), audit.Actor("bench")
                )
            data = json.loads((ROOT / "scripts/examples/overenskommelse-halland.json").read_text(encoding="utf-8"))
            extra = dict(data["parties"][1])
            data["parties"] += [
                dict(extra, name=f"Förening nummer {i}", org_number=luhn_org_number(f"80250{i:04d}"))
                for i in range(args.parties - len(data["parties"]))
            ]
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            agreement_id = client.post("/api/agreements", json=data, headers=headers).json["id"]
            links = client.post(f"/api/agreements/{agreement_id}/send", headers=headers).json["links"]
            print(f"sent to {len(links)} parties", file=sys.stderr)

            idle = args.idle_samples
            busy = confirm_latencies(app, client, links[: -2 * idle], args.pause, poll_max=1)
            after_idle = {
                10: confirm_latencies(app, client, links[-2 * idle : -idle], args.idle, poll_max=10),
                1: confirm_latencies(app, client, links[-idle:], args.idle, poll_max=1),
            }
            print(f"p50 {statistics.median(busy):.0f} ms; after idle {after_idle}", file=sys.stderr)
            one = throughput(app, receiver, args.events, workers=1)
            four = throughput(app, receiver, args.events, workers=4)
        finally:
            office.stop()
            os.environ.pop("AVTAL_INSTANCE", None)

    print(
        json.dumps(
            {
                "events": args.events,
                "deliveries_per_s_1_worker": round(one, 1),
                "deliveries_per_s_4_workers": round(four, 1),
                "confirmations": len(busy),
                "pause_s": args.pause,
                "confirm_to_webhook_p50_ms": round(percentile(busy, 50), 1),
                "confirm_to_webhook_p99_ms": round(percentile(busy, 99), 1),
                "of_which_confirm_request_p50_ms": round(statistics.median(POST_MS), 1),
                "idle_s": args.idle,
                **{
                    f"after_idle_ms_poll_{poll}_s": round(statistics.median(samples), 1)
                    for poll, samples in after_idle.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
