"""Hostile templates and previews, side by side in one run (issue "Security, round two").

login_idle_ms          GET /login over real HTTP, nothing else running (median, max)
login_inprocess_ms     the same while 4 hostile fills run in worker threads (the old way)
login_child_ms         the same while 4 hostile fills run in limited child processes (the new way)
fill_inprocess_s       how long one hostile fill kept a worker thread, the old way
fill_child_s           the same, the new way (refused at the time budget)
preview_first_ms       a draft's preview: filled and converted by LibreOffice
preview_repeat_ms      the same unchanged draft again: served from the preview cache
"""

import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import migrated_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from service.documents import fill  # noqa: E402
from service.documents.fill import agreement_context  # noqa: E402
from service.schema import validate_agreement  # noqa: E402
from tests.helpers import docx_with  # noqa: E402

HOSTILE = docx_with(
    "{% for a in title %}{% for b in title %}{% for c in title %}{{ a }}{% endfor %}{% endfor %}{% endfor %}"
)


def login_latencies(base, seconds):
    """GET /login repeatedly for `seconds`; (median ms, max ms)."""
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        urllib.request.urlopen(f"{base}/login").read()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 1), round(max(samples), 1)


def hostile_fills(render, context, threads=4):
    """Start `threads` hostile fills; returns (threads, seconds each took)."""
    took = []

    def one():
        start = time.perf_counter()
        try:
            render(HOSTILE, context)
        except fill.TemplateFillError:
            pass
        took.append(time.perf_counter() - start)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers, took


def under_load(base, render, context):
    workers, took = hostile_fills(render, context)
    time.sleep(0.5)
    latencies = login_latencies(base, 6)
    for worker in workers:
        worker.join()
    return latencies, round(statistics.median(took), 1)


def main():
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    data["title"] = "Ett hundra tecken långt avtalsnamn " * 3  # about 100 characters to loop over
    with tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(tmp)
        office = app.extensions["office"]
        office.start()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            model = validate_agreement(data)
            context = agreement_context(model)
            fill.render_docx(fill.builtin_template("iop"), context)  # starts the forkserver once
            result = {"login_idle_ms": login_latencies(base, 3)}
            result["login_inprocess_ms"], result["fill_inprocess_s"] = under_load(base, fill._render, context)
            result["login_child_ms"], result["fill_child_s"] = under_load(base, fill.render_docx, context)
            previews = app.extensions["previews"]
            start = time.perf_counter()
            previews.render(office, 1, model, data, None, None)
            result["preview_first_ms"] = round((time.perf_counter() - start) * 1000, 1)
            start = time.perf_counter()
            previews.render(office, 1, model, data, None, None)
            result["preview_repeat_ms"] = round((time.perf_counter() - start) * 1000, 1)
        finally:
            server.shutdown()
            office.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
