r"""How an audit event's hash is made, and a check of one agreement's trail from its JSON alone.

This file uses Python's standard library only: the service hashes every event with
`event_hash`, and the archive package ships this very file as
`documentation/verifiera_granskningslogg.py`, so whoever holds a package checks its trail
with the same rule the service wrote it with:

    python3 documentation/verifiera_granskningslogg.py \
        representations/rep1/data/avtal-12-RS-2020-2741-granskningslogg.json

Each event's hash covers its content, the hash of the service's previous event
(`prev_hash`) and the hash of the previous event of the same agreement
(`agreement_prev_hash`, the first event of an agreement has 64 zeros). So the events of
one agreement form a chain of their own: a changed, removed or inserted event breaks it.
"""

import hashlib
import json
import sys
from datetime import datetime, timezone

GENESIS = "0" * 64


def event_hash(content: dict) -> str:
    """SHA-256 of the event's content as canonical JSON (sorted keys, no spaces, UTF-8).

    `created_at` is the time in UTC without offset, as datetime.isoformat writes it;
    `agreement_prev_hash` is left out for events recorded before agreements had chains of their own.
    """
    if content.get("agreement_prev_hash") is None:
        content = {k: v for k, v in content.items() if k != "agreement_prev_hash"}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def stored_time(moment: str) -> str:
    """A time as the trail shows it (ISO 8601 with offset) -> as it is hashed (UTC, no offset)."""
    utc = timezone.utc  # noqa: UP017 (datetime.UTC needs Python 3.11; this file runs on 3.9)
    return datetime.fromisoformat(moment).astimezone(utc).replace(tzinfo=None).isoformat()


def _content(agreement_id, event: dict) -> dict:
    return {
        "agreement_id": agreement_id,
        "created_at": stored_time(event["created_at"]),
        "event": event["event"],
        "actor": event["actor"],
        "ip": event["ip"],
        "user_agent": event["user_agent"],
        "details": event["details"],
        "prev_hash": event["prev_hash"],
        "agreement_prev_hash": event.get("agreement_prev_hash"),
    }


def problems(trail: dict) -> tuple[list[str], int]:
    """What is wrong with the trail (in Swedish; empty if it holds), and how many events
    came before the agreement's own chain began (their content is checked, not their order)."""
    agreement_id = trail["agreement"]["id"]
    found, unchained, previous = [], 0, None
    for event in trail["events"]:
        if event_hash(_content(agreement_id, event)) != event["hash"]:
            found.append(f"Händelse {event['id']}: innehållet stämmer inte med dess hash (den har ändrats).")
        link = event.get("agreement_prev_hash")
        if link is None:
            unchained += 1
            if previous is not None and previous.get("agreement_prev_hash") is not None:
                found.append(f"Händelse {event['id']}: saknar länk till föregående händelse i avtalets kedja.")
        elif link != (previous["hash"] if previous else GENESIS):
            found.append(
                f"Händelse {event['id']}: länken till föregående händelse stämmer inte "
                "(en händelse saknas, har lagts till eller flyttats)."
            )
        previous = event
    return found, unchained


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("Användning: python3 verifiera_granskningslogg.py GRANSKNINGSLOGG.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        trail = json.load(f)
    found, unchained = problems(trail)
    for problem in found:
        print(problem)
    if found:
        print(f"FEL: granskningsloggen för avtal {trail['agreement']['id']} håller inte.")
        return 1
    events = trail["events"]
    print(f"OK: {len(events)} händelser, kedjan är obruten.")
    if events:
        print(f"Sista händelsens hash: {events[-1]['hash']}")
    if unchained:
        print(f"{unchained} händelser registrerades innan avtalen fick egna kedjor: deras innehåll är kontrollerat,")
        print("deras ordning bara mot tjänstens hela kedja (flask --app service audit verify).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
