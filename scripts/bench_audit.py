"""The metrics' count of link events at a scrape, with and without the index on event names.

    scripts/bench audit [--events N]

One SQLite database with N audit events (a tenth of them link events), the count timed with
the index, then with it dropped: the same query, side by side in one run. One JSON line last.
"""

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import timed  # noqa: E402

from service import migrate as migrations  # noqa: E402
from service.db import Database  # noqa: E402
from service.operations.metrics import LINK_EVENTS, _LinkEvents  # noqa: E402

OTHER_EVENTS = ("draft_saved", "downloaded", "final_assembled", "created")


def fill(path: Path, events: int):
    """`events` rows written straight with sqlite3 (the audit chain is not what is timed)."""
    names = [*LINK_EVENTS, *OTHER_EVENTS * 14]  # about a tenth are link events
    rows = (("2026-01-01 00:00:00", names[i % len(names)], "system", "{}", f"p{i}", f"h{i}") for i in range(events))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO audit_events (created_at, event, actor, ip, user_agent, details, prev_hash, hash)"
            " VALUES (?, ?, ?, '', '', ?, ?, ?)",
            rows,
        )


def median_scrape_ms(db, runs=7) -> float:
    return statistics.median(timed(lambda: list(_LinkEvents(db).collect())) for _ in range(runs))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "avtal.sqlite3"
        db = Database(f"sqlite:///{path}")
        migrations.upgrade(db)
        fill(path, args.events)
        indexed = median_scrape_ms(db)
        with sqlite3.connect(path) as connection:
            connection.execute("DROP INDEX ix_audit_events_event")
        scanned = median_scrape_ms(db)
        db.engine.dispose()
    result = {"events": args.events, "with_index_ms": round(indexed, 1), "without_index_ms": round(scanned, 1)}
    result["ratio"] = round(scanned / indexed, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
