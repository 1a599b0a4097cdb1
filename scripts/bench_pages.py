"""The party's page pictures: made per view (as before) against made once and read, side by side.

For the Halland example (frozen as sending does), medians over `--runs`:

render_per_view_ms  every page picture rendered and PNG-optimised for one view (the old way)
stored_per_view_ms  every page picture read from the file store for one view (the new way)
make_once_ms        making the rendition once at freeze time (pictures at both widths + HTML)
html_ms             the HTML text alone, from the filled Word document
bytes_old / bytes_new   one view's pictures, old (900 px PNG) and new (640 px palette PNG)
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import medians  # noqa: E402

from service.documents.convert import OfficePool  # noqa: E402
from service.documents.fill import fill_agreement  # noqa: E402
from service.documents.pages import docx_html, make_rendition  # noqa: E402
from service.documents.preview import page_count, page_png  # noqa: E402
from service.schema import validate_agreement  # noqa: E402
from service.storage import FileStore  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    data = json.loads((ROOT / "scripts/examples/overenskommelse-halland.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1)
        office.start()
        try:
            docx = fill_agreement(validate_agreement(data))
            pdf = office.convert(docx, pdfa=True)
        finally:
            office.stop()
        files = FileStore(Path(tmp) / "files")
        pages = page_count(pdf)
        made = make_rendition(files, pdf, docx)
        small = [p["png"]["640"] for p in made["pages"]]
        probes = {
            "render_per_view_ms": lambda: [page_png(pdf, n) for n in range(pages)],
            "stored_per_view_ms": lambda: [files.get(sha) for sha in small],
            "make_once_ms": lambda: make_rendition(files, pdf, docx),
            "html_ms": lambda: docx_html(docx),
        }
        result = medians(probes, runs, digits=2)
        result.update(
            runs=runs,
            pages=pages,
            bytes_old=sum(len(page_png(pdf, n)) for n in range(pages)),
            bytes_new=sum(len(files.get(sha)) for sha in small),
        )
    result["render_over_stored"] = round(result["render_per_view_ms"] / max(result["stored_per_view_ms"], 0.01))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
