"""An integration written against the generated Python client alone (run by test_generated_clients.py
in a venv of its own, where only that client and its dependencies are installed).

    python client_flow.py BASE_URL TOKEN start AGREEMENT_JSON   -> creates two drafts, sends one
    python client_flow.py BASE_URL TOKEN finish AGREEMENT_ID OUT -> lists, reads, waits for the final PDF

Each step prints one JSON line of what it saw, for the test to check.
"""

import json
import sys
import time

from avtalstjansten_api_client import AuthenticatedClient
from avtalstjansten_api_client.api.agreements import create_agreement, get_agreement, list_agreements, send_agreement
from avtalstjansten_api_client.api.documents import download_final_pdf
from avtalstjansten_api_client.api.parties import add_parties
from avtalstjansten_api_client.models import Created, IopAgreement, Links, ListPage, Party, PartyKind, Problem
from avtalstjansten_api_client.types import File


def report(**seen):
    print(json.dumps(seen, ensure_ascii=False), flush=True)


def start(client, data):
    """Create (refused first: 422), send, and be refused a party for an IOP (409)."""
    too_long = IopAgreement.from_dict({**data, "title": "x" * 301})
    refused = create_agreement.sync_detailed(client=client, body=too_long)
    assert isinstance(refused.parsed, Problem) and refused.parsed.code == "invalid-input"
    report(step="invalid", status=refused.status_code, errors=[e.to_dict() for e in refused.parsed.errors])

    ids = []
    for title in (data["title"], data["title"] + " (andra)"):
        created = create_agreement.sync_detailed(client=client, body=IopAgreement.from_dict({**data, "title": title}))
        assert isinstance(created.parsed, Created), created.content
        ids.append(created.parsed.id)
    sent = send_agreement.sync_detailed(ids[0], client=client, idempotency_key=f"send-{ids[0]}")
    assert isinstance(sent.parsed, Links), sent.content
    party = Party.from_dict(data["parties"][1])
    assert party.kind is PartyKind.IDEBUREN
    conflict = add_parties.sync_detailed(ids[0], client=client, body=party)
    assert isinstance(conflict.parsed, Problem) and conflict.parsed.code == "conflict"
    report(
        step="sent",
        ids=ids,
        status=str(sent.parsed.status),
        links=[link.url for link in sent.parsed.links],
        conflict=[conflict.status_code, conflict.parsed.detail],
    )


def finish(client, agreement_id, out):
    """List every agreement a page at a time, read one, wait for its final PDF and keep it."""
    listed, cursor = [], None
    while True:
        page = list_agreements.sync_detailed(client=client, limit=1, **({"cursor": cursor} if cursor else {}))
        assert isinstance(page.parsed, ListPage), page.content
        listed += [item.id for item in page.parsed.items]
        cursor = page.parsed.next_cursor
        if not cursor:
            break
    report(step="listed", ids=listed)

    pending = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = download_final_pdf.sync_detailed(agreement_id, client=client)
        if isinstance(answer.parsed, File):
            break
        assert isinstance(answer.parsed, Problem) and answer.parsed.code == "final-pending", answer.content
        if not pending:
            report(step="pending", retry_after=answer.headers["Retry-After"])
        pending.append(answer.status_code)
        time.sleep(min(int(answer.headers["Retry-After"]), 1))
    else:
        raise SystemExit("the final PDF never came")
    with open(out, "wb") as file:
        file.write(answer.parsed.payload.read())

    status = get_agreement.sync_detailed(agreement_id, client=client).parsed
    report(step="final", status=str(status.status), sha256=status.final.sha256, pending=len(pending))


def main(base_url, token, step, *args):
    with AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True) as client:
        if step == "start":
            start(client, json.loads(args[0]))
        else:
            finish(client, int(args[0]), args[1])


if __name__ == "__main__":
    main(*sys.argv[1:])
