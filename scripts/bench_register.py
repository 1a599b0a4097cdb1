"""The register of every party ("Förteckning över undertecknande organisationer") for --rows N
parties: the time to make its PDF/A, XLSX and CSV, and the memory it takes.

pdf_s, xlsx_s, csv_s   seconds to make each file (the PDF unsealed)
pages, bytes           the PDF's pages and size; xlsx_bytes, csv_bytes the others' sizes
peak_rss_mb            the largest resident memory of this process and its children together
                       (sampled every 20 ms: the PDF is laid out in child processes), in MB
parent_peak_rss_mb     this process alone (its own high-water mark)
"""

import argparse
import io
import json
import os
import resource
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from service.documents.register import (  # noqa: E402
    RegisterFacts,
    RegisterRow,
    register_csv,
    register_pdf,
    register_xlsx,
)

PLACES = ["Halmstad", "Varberg", "Falkenberg", "Kungsbacka", "Laholm", "Hylte"]
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rows(count):
    first = datetime(2026, 3, 9, 13, 2)
    for i in range(count):
        yield RegisterRow(
            organisation=f"Förening nummer {i + 1} för idrott, kultur och gemenskap i Halland",
            org_number=f"802{i // 10000:03d}-{i % 10000:04d}",
            confirmed_by=f"Förnamn Efternamnsson {i + 1}, ordförande",
            place=PLACES[i % len(PLACES)],
            confirmed_at=first + timedelta(minutes=7 * i),
            record="Slutligt avtal" if i < 10 else f"Anslutning {i - 9}",
        )


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and every process below it."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    parents[int(entry.name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(below)
        tree |= below
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_BYTES
        except OSError:
            continue
    return total


class PeakMemory(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            self.peak = max(self.peak, tree_rss(os.getpid()))


def timed(make):
    start = time.perf_counter()
    result = make()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="write the three files here")
    args = parser.parse_args()
    facts = RegisterFacts(
        title="Överenskommelse om samverkan mellan Region Halland och den idéburna sektorn",
        registration_number="RS 2026/117",
        version_number=1,
        frozen_sha256="9f" * 32,
        made_at=datetime.now().replace(microsecond=0),
    )
    memory = PeakMemory()
    memory.start()
    csv_s, csv = timed(lambda: register_csv(facts, rows(args.rows)))
    xlsx_s, xlsx = timed(lambda: register_xlsx(facts, rows(args.rows)))
    pdf_s, pdf = timed(lambda: register_pdf(facts, rows(args.rows)))
    memory.done.set()
    memory.join()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in (("pdf", pdf), ("xlsx", xlsx), ("csv", csv)):
            (args.out / f"forteckning-{args.rows}.{name}").write_bytes(data)
    result = {
        "rows": args.rows,
        "pdf_s": round(pdf_s, 2),
        "xlsx_s": round(xlsx_s, 2),
        "csv_s": round(csv_s, 2),
        "pages": len(PdfReader(io.BytesIO(pdf)).pages),
        "bytes": len(pdf),
        "xlsx_bytes": len(xlsx),
        "csv_bytes": len(csv),
        "peak_rss_mb": round(memory.peak / 2**20),
        "parent_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
