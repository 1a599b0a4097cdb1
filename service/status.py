"""An agreement's status, the changes between statuses the domain allows, and the rules that
follow from the status (may it be edited, sent, joined, ...): each rule in one function."""

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


# The rules, one function each, read by the domain, the views and the pages (Jinja globals).
# A rule that is one comparison (no return type: a bool, or an SQL condition) also works on the
# Agreement class, as a query's condition: select(Agreement).where(status.is_completed(Agreement)).


def is_draft(agreement):
    """Its text is being edited: no version is out, so no answer counts and every link is outdated."""
    return agreement.status == Status.DRAFT


def is_completed(agreement):
    """Every party confirmed the current version: the final PDF is made, the archive package can be."""
    return agreement.status == Status.COMPLETED


def may_edit(agreement) -> bool:
    """Any agreement but a completed one: that is never edited again (an överenskommelse takes new parties)."""
    return not is_completed(agreement)


def may_send(agreement) -> bool:
    """A draft, or a declined agreement (changed or not). Not a sent one: its version is out
    already, and freezing the same text again would void the answers given for nothing (a
    changed text is a draft again); never a completed one."""
    return agreement.status in (Status.DRAFT, Status.DECLINED)


def is_out_for_signature(agreement) -> bool:
    """Its version is out and not every party has confirmed: sent, or declined by a party.
    Its links can be issued again, and a new text voids the answers given."""
    return agreement.status in (Status.SENT, Status.DECLINED)


def awaits_answers(agreement):
    """Sent and declined by no party: the parties who have not answered are reminded and the
    handläggare told when the last day passes. A decline stops that until the official acts."""
    return agreement.status == Status.SENT


def accession_refusal(agreement) -> str:
    """Why organisations cannot join the agreement now, in Swedish; "" when they can. Only a
    completed överenskommelse takes new parties: they join what every party has confirmed."""
    if agreement.kind != "overenskommelse":
        return "Bara en överenskommelse kan ta emot nya parter."
    if not is_completed(agreement):
        return "Avtalet måste vara klart, alla parter ha bekräftat, innan fler organisationer kan anslutas."
    return ""


def is_open_for_accession(agreement) -> bool:
    return not accession_refusal(agreement)


# The pages ask the same rules: each is a Jinja global under its own name.
RULES = (is_draft, is_completed, may_edit, may_send, is_out_for_signature, awaits_answers, is_open_for_accession)
