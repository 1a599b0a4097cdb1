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
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import timed  # noqa: E402

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
        samples = {"render_per_view_ms": [], "stored_per_view_ms": [], "make_once_ms": [], "html_ms": []}
        for i in range(runs):
            samples["render_per_view_ms"].append(timed(lambda: [page_png(pdf, n) for n in range(pages)]))
            samples["stored_per_view_ms"].append(timed(lambda: [files.get(sha) for sha in small]))
            samples["make_once_ms"].append(timed(lambda: make_rendition(files, pdf, docx)))
            samples["html_ms"].append(timed(lambda: docx_html(docx)))
            print(f"run {i + 1}/{runs}", {k: round(v[-1], 1) for k, v in samples.items()}, file=sys.stderr)
        result = {k: round(statistics.median(v), 2) for k, v in samples.items()}
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
