"""Many machines on this one, side by side in one run (prints one JSON line last):

render_docs_per_s_1_host / _2_hosts   the Skåne IOP, DOCX -> PDF through OfficeHosts with
                                      two conversions in flight, over 1 and over 2
                                      scripts/office-host processes (alternating rounds)
render_ratio                          2 hosts / 1 host
cluster_load                          scripts/load --hosts over 2 web hosts against PostgreSQL
                                      (scripts/cluster: object store, 2 LibreOffice hosts, worker)
sqlite_load                           scripts/load on the embedded default: 1 host, SQLite
"""

import argparse
import concurrent.futures
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers import OfficeHostServer  # noqa: E402

from service.documents.convert import OfficeHosts  # noqa: E402
from service.documents.fill import fill_agreement  # noqa: E402
from service.schema import validate_agreement  # noqa: E402


def throughput(office, docx, count) -> float:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: office.convert(docx), range(count)))
    return count / (time.perf_counter() - start)


def render_figures(docx, count, rounds):
    folder = Path(tempfile.mkdtemp(prefix="avtal-bench-"))
    hosts = [OfficeHostServer(folder / f"host-{i}").start() for i in (1, 2)]
    try:
        one = OfficeHosts([hosts[0].address])
        two = OfficeHosts([h.address for h in hosts])
        throughput(two, docx, 4)  # warm both
        ones, twos = [], []
        for _ in range(rounds):
            ones.append(throughput(one, docx, count))
            twos.append(throughput(two, docx, count))
    finally:
        for host in hosts:
            host.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(ones), statistics.median(twos)


def load(extra, load_args):
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts/load.py"), *load_args, *extra], capture_output=True, text=True
    )
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    result = json.loads(run.stdout.strip().splitlines()[-1])
    keys = ("hosts", "database", "requests", "errors", "confirm_p50_ms", "confirm_p99_ms", "confirm_rps")
    return {k: result[k] for k in keys} | {"once": result["confirmations_in_db_once"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=16, help="documents per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parties", type=int, default=40)
    parser.add_argument("--agreements", type=int, default=2)
    args = parser.parse_args()
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    one, two = render_figures(fill_agreement(validate_agreement(data)), args.docs, args.rounds)

    load_args = ["--parties", str(args.parties), "--agreements", str(args.agreements), "--previewers", "2"]
    load_args += ["--big-parties", "0", "--repeat-views", "5"]
    folder = Path(tempfile.mkdtemp(prefix="avtal-cluster-"))
    cluster = [sys.executable, str(ROOT / "scripts/cluster.py")]
    started = subprocess.run([*cluster, "start", "--dir", str(folder)], capture_output=True, text=True, check=True)
    hosts = started.stdout.split("Webbvärdar: ")[1].split()[0]
    try:
        clustered = load(["--hosts", hosts, "--cluster-dir", str(folder)], load_args)
    finally:
        subprocess.run([*cluster, "stop", "--dir", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    embedded = load([], load_args)
    print(
        json.dumps(
            {
                "render_docs_per_s_1_host": round(one, 2),
                "render_docs_per_s_2_hosts": round(two, 2),
                "render_ratio": round(two / one, 2),
                "cluster_load": clustered,
                "sqlite_load": embedded,
            }
        )
    )


if __name__ == "__main__":
    main()
