"""An agreement's status and the changes between statuses the domain allows, in one place."""

from enum import StrEnum

from .errors import Conflict


class Status(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    COMPLETED = "completed"
    DECLINED = "declined"


LABELS = {
    Status.DRAFT: "Utkast",
    Status.SENT: "Skickat för signering",
    Status.COMPLETED: "Klart",
    Status.DECLINED: "Avböjt",
}

# From each status, the statuses it may change to. A completed agreement is never edited
# again: it takes new parties (accession), which sends it out again, and the latest answer
# through a link still open (reissued before completion) counts.
ALLOWED = {
    Status.DRAFT: {Status.DRAFT, Status.SENT},
    Status.SENT: {Status.DRAFT, Status.SENT, Status.COMPLETED, Status.DECLINED},
    Status.DECLINED: {Status.DRAFT, Status.SENT, Status.COMPLETED, Status.DECLINED},
    Status.COMPLETED: {Status.SENT, Status.COMPLETED, Status.DECLINED},
}


def change(agreement, to: Status) -> None:
    """Set the agreement's status, or Conflict if the domain does not allow that change."""
    if to not in ALLOWED[Status(agreement.status)]:
        raise Conflict(f"Ett avtal med status {LABELS[Status(agreement.status)]} kan inte bli {LABELS[to]}.")
    agreement.status = to.value
