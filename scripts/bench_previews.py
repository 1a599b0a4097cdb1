"""The official's preview of a draft: the first time against a repeat of the unchanged draft,
side by side in one run, through the app's own page (median of --runs).

first_ms     the preview page of a draft just changed (fill + LibreOffice + page count)
repeat_ms    the same page again, nothing changed (served without converting again)
conversions  LibreOffice conversions counted over all runs (one per changed draft is the goal)
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import migrated_app, timed  # noqa: E402

from service import agreements, users  # noqa: E402
from service.audit import SYSTEM  # noqa: E402
from service.documents.convert import OfficePool  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = json.loads((ROOT / "scripts/examples/iop-skane-2021.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        office = OfficePool(Path(tmp) / "office", size=1)
        office.start()
        try:
            app = migrated_app(tmp, {"WTF_CSRF_ENABLED": False}, office)
            conversions = []
            office.on_conversion = lambda host, seconds, ok: conversions.append(seconds)
            db = app.extensions["db"]
            with db.session() as session:
                password = users.generate_password()
                user = users.create_user(session, "bench@example.se", "official", password)
                agreement = agreements.create_draft(session, app.extensions["files"], data, user, SYSTEM)
            client = app.test_client()
            assert client.post("/login", data={"email": user.email, "password": password}).status_code == 302
            url = f"/avtal/{agreement.id}/forhandsgranska"

            def preview():
                response = client.get(url)
                assert response.status_code == 200, response.status_code

            preview()  # LibreOffice warm
            conversions.clear()
            samples = {"first_ms": [], "repeat_ms": []}
            for run in range(args.runs):
                with db.session() as session:  # the official changes the draft
                    changed = dict(data, title=f"{data['title']} (utkast {run})")
                    stored = agreements.get_agreement(session, agreement.id)
                    agreements.update_draft(session, app.extensions["files"], stored, changed, user, SYSTEM)
                samples["first_ms"].append(timed(preview))
                samples["repeat_ms"].append(timed(preview))
                print(f"run {run + 1}/{args.runs}", {k: round(v[-1]) for k, v in samples.items()}, file=sys.stderr)
        finally:
            office.stop()
    result = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    result["first_over_repeat"] = round(result["first_ms"] / result["repeat_ms"], 1)
    result["conversions"] = len(conversions)
    result["runs"] = args.runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
