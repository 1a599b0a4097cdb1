"""Archive packages of many completed agreements: the time to export them and their size.

Completes --agreements copies of the Skåne IOP (drafted, frozen, confirmed by both parties,
final PDF assembled, through the service's own code), then exports every one as the
archive's period download does, timing the export alone.

export_s        seconds to build and record all the packages (one after another)
export_ms_each  median milliseconds per package
bytes_total     the packages' ZIP files together; bytes_each their median
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_documents import completed  # noqa: E402
from benchlib import migrated_app  # noqa: E402

from service import final  # noqa: E402
from service.audit import Actor  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402
from service.records import archive_package  # noqa: E402

EXAMPLES = ROOT / "scripts" / "examples"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=100)
    args = parser.parse_args()
    iop = json.loads((EXAMPLES / "iop-skane-2021.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1, timeout=300)
        office.start()
        try:
            app = migrated_app(Path(tmp) / "instance", {"TESTING": True}, office)
            x = app.extensions
            ids = []
            for n in range(args.agreements):
                agreement_id, _ = completed(app, iop)
                final.assemble_final(x["db"], x["files"], x["office"], x["seal"], agreement_id)
                ids.append(agreement_id)
                print(f"completed {n + 1}/{args.agreements}", file=sys.stderr)
            times, sizes = [], []
            for agreement_id in ids:
                start = time.perf_counter()
                package = archive_package.export_agreement(x["db"], x["files"], agreement_id, Actor("user:bench"))
                times.append(time.perf_counter() - start)
                sizes.append(len(package.data))
        finally:
            office.stop()
    print(
        json.dumps(
            {
                "agreements": len(ids),
                "export_s": round(sum(times), 2),
                "export_ms_each": round(statistics.median(times) * 1000, 1),
                "bytes_total": sum(sizes),
                "bytes_each": int(statistics.median(sizes)),
            }
        )
    )


if __name__ == "__main__":
    main()
