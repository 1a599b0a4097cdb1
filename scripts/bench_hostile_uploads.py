"""Hostile anonymous uploads, before and after (issue "Security and recovery, round three").

Each probe runs in a process of its own against one source tree (this one, and with
--before another checkout, e.g. /work/main), and reports the time of the call and its peak memory
(VmHWM of the process and its children, sampled, so a probe stopped at --cap still
reports what it had grown to; grew_mb is the growth during the call):

verify_20mb_s / _peak_mb     /verifiera's check of a sealed PDF followed by ~20 MB of
                             incremental updates (130 000)
xlsx_1gb_s / _peak_mb        reading a 6 kB .xlsx list whose sharedStrings.xml unpacks to 1 GB
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import shared_strings_bomb, with_updates  # noqa: E402

# Each probe prints "READY" once set up, then the seconds its call took and the answer.
VERIFY = """
import sys, tempfile, time
sys.path.insert(0, ".")
sys.path.insert(0, "scripts")
from benchlib import migrated_app
from service.records import verification
app = migrated_app(tempfile.mkdtemp())
data = open(sys.argv[1], "rb").read()
print("READY", flush=True)
with app.extensions["db"].session() as session:
    start = time.perf_counter()
    answer = verification.verify_pdf(session, app.extensions["seal"], data).summary()
print(round(time.perf_counter() - start, 2), answer)
"""

XLSX = """
import sys, time
sys.path.insert(0, ".")
from service import accession
data = open(sys.argv[1], "rb").read()
print("READY", flush=True)
start = time.perf_counter()
try:
    answer = f"{len(accession.read_rows('lista.xlsx', data))} rows"
except Exception as exc:
    answer = f"{type(exc).__name__} {getattr(exc, 'message', exc)}"
print(round(time.perf_counter() - start, 2), answer)
"""


def tree_hwm_kb(pid) -> int:
    """VmHWM of `pid` plus that of every descendant still running."""
    total = 0
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    except OSError:
        return total
    return total + sum(tree_hwm_kb(int(c)) for c in children)


def probe(tree: Path, code: str, path: Path, cap: float) -> dict:
    """Run one probe; its peak memory counts from "READY" on (what the call itself grew to),
    and a call still running after `cap` seconds is stopped."""
    process = subprocess.Popen(
        [str(tree / ".venv/bin/python"), "-c", code, str(path)],
        cwd=tree,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout.readline().strip() == "READY"
    start, ready_kb = time.perf_counter(), tree_hwm_kb(process.pid)
    peak = ready_kb
    while process.poll() is None and time.perf_counter() - start < cap:
        peak = max(peak, tree_hwm_kb(process.pid))
        time.sleep(0.05)
    stopped = process.poll() is None
    if stopped:
        os.killpg(process.pid, signal.SIGKILL)  # the probe and its children: its own process group
    out = process.communicate()[0].strip()
    seconds, _, answer = out.partition(" ")
    return {
        "s": round(time.perf_counter() - start, 2) if stopped else float(seconds),
        "peak_mb": round(peak / 1024),
        "grew_mb": round((peak - ready_kb) / 1024),
        "stopped_at_cap": stopped,
        "answer": answer[:160],
    }


def sealed_pdf(tmp) -> bytes:
    """A PDF sealed with a self-made key, as anyone can make one."""
    import pikepdf
    from pyhanko.sign.signers import SimpleSigner

    from service.documents import seal

    sealer = seal.Sealer(SimpleSigner.load_pkcs12_data(seal.self_signed_p12("Någon"), other_certs=()))
    doc = pikepdf.new()
    doc.add_blank_page()
    path = Path(tmp) / "blank.pdf"
    doc.save(path)
    return sealer.seal(path.read_bytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="another checkout to run the same probes on")
    parser.add_argument("--cap", type=float, default=120, help="seconds before a probe is stopped")
    args = parser.parse_args()
    trees = {"after": ROOT} | ({"before": args.before} if args.before else {})
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "updates.pdf"
        pdf.write_bytes(with_updates(sealed_pdf(tmp), 130_000))
        xlsx = Path(tmp) / "bomb.xlsx"
        xlsx.write_bytes(shared_strings_bomb(1024**3))
        result = {"verify_file_mb": round(pdf.stat().st_size / 1024**2, 1), "xlsx_file_kb": xlsx.stat().st_size // 1024}
        for name, tree in trees.items():
            for probe_name, code, path in (("verify_20mb", VERIFY, pdf), ("xlsx_1gb", XLSX, xlsx)):
                measured = probe(tree, code, path, args.cap)
                print(name, probe_name, measured, file=sys.stderr)
                result[f"{probe_name}_{name}_s"] = measured["s"]
                result[f"{probe_name}_{name}_peak_mb"] = measured["peak_mb"]
                result[f"{probe_name}_{name}_grew_mb"] = measured["grew_mb"]
                result[f"{probe_name}_{name}_stopped_at_cap"] = measured["stopped_at_cap"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
