"""Median timings of the Skåne IOP example, each step measured side by side in one run.

fill_ms          form data -> filled .docx (docxtpl)
convert_ms       the same .docx -> PDF through the warm LibreOffice, bare
render_ms        form data -> stored PDF through the service's own code (validate, fill, convert, store)
cold_soffice_ms  one `soffice --headless --convert-to pdf` process per document
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import medians  # noqa: E402

from service.documents import render_agreement_pdf  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402
from service.documents.fill import fill_agreement  # noqa: E402
from service.schema import validate_agreement  # noqa: E402
from service.storage import FileStore  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        office = OfficePool(tmp / "office", size=1)
        files = FileStore(tmp / "files")
        office.start()
        docx = fill_agreement(validate_agreement(data))
        (tmp / "iop.docx").write_bytes(docx)
        cold_profile = (tmp / "cold-profile").as_uri()

        def cold():
            subprocess.run(
                [
                    "soffice",
                    f"-env:UserInstallation={cold_profile}",
                    "--headless",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    str(tmp / "cold"),
                    str(tmp / "iop.docx"),
                ],
                check=True,
                capture_output=True,
            )

        office.convert(docx)  # warm-up
        cold()  # creates the cold profile once, as an installed soffice would have it
        probes = {
            "fill_ms": lambda: fill_agreement(validate_agreement(data)),
            "convert_ms": lambda: office.convert(docx),
            "render_ms": lambda: render_agreement_pdf(validate_agreement(data), office, files),
            "cold_soffice_ms": cold,
        }
        try:
            result = medians(probes, runs)
        finally:
            office.stop()
    result["runs"] = runs
    result["render_over_convert"] = round(result["render_ms"] / result["convert_ms"], 2)
    result["cold_over_render"] = round(result["cold_soffice_ms"] / result["render_ms"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
