"""One family of errors for the whole service, as itsdangerous roots its errors in `BadData`.

Every error a person may see carries a Swedish `message` that is safe to show, and a
stable `code` a program can branch on (the API's problem documents carry it). The
domain raises the kind of problem (not found, conflict, invalid input, temporarily
unavailable) and never an HTTP status: `web/problems.py` maps each code to its status
once, and one application-level handler renders the family as a page or as a problem
document.
"""


class AvtalError(Exception):
    """The root of the family; `message` is Swedish and safe to show."""

    message = "Något gick fel. Försök igen om en stund."
    code = "error"
    retry_after = None  # seconds, when trying again later will do

    def __init__(self, message=None, retry_after=None):
        if message is not None:
            self.message = message
        if retry_after is not None:
            self.retry_after = retry_after
        super().__init__(self.message)


class NotFound(AvtalError):
    """What was asked for does not exist (or is not this person's to see)."""

    message = "Det som söktes finns inte."
    code = "not-found"


class Conflict(AvtalError):
    """The request is understood, but the state of the agreement does not allow it now."""

    message = "Det går inte att göra just nu, i avtalets nuvarande läge."
    code = "conflict"


class FinalPending(Conflict):
    """The agreement is completed, but its final PDF is still being made: ask again after `retry_after`."""

    code = "final-pending"


class NotAllowed(AvtalError):
    """The person may read this but not change it (e.g. an official who is not a handläggare of the agreement)."""

    message = "Du har inte behörighet att göra detta."
    code = "not-allowed"


class InvalidInput(AvtalError):
    """What was typed or sent is not valid; `errors` maps a field to a Swedish message."""

    message = "Uppgifterna är inte giltiga."
    code = "invalid-input"

    def __init__(self, message=None, errors=None, retry_after=None):
        self.errors = errors or {}
        super().__init__(message, retry_after)


class Unavailable(AvtalError):
    """A component we rely on (LibreOffice, the file store, mail) failed; trying again may work."""

    message = "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund."
    code = "unavailable"


# --- refusals of a request as such, before any rule of the domain is asked ---


class Unauthenticated(AvtalError):
    """No credentials, or ones we do not know."""

    message = "Ogiltig eller saknad API-nyckel."
    code = "unauthenticated"


class BadRequest(AvtalError):
    """The request cannot be read at all (not JSON, an unknown parameter value)."""

    message = "Begäran kunde inte behandlas."
    code = "bad-request"


class TooLarge(AvtalError):
    message = "Förfrågan är för stor."
    code = "too-large"


class NotAcceptable(AvtalError):
    """The client accepts none of the media types the answer comes in."""

    message = "Svaret finns inte i den form som efterfrågas."
    code = "not-acceptable"


# --- the kinds of one area, each with its Swedish message ---


class LinkProblem(AvtalError):
    """Why a signing link cannot be used: `kind` is invalid, expired, used, revoked or outdated."""

    message = "Länken kan inte användas."

    def __init__(self, kind, link=None, confirmation=None):
        self.kind = kind
        self.code = f"link-{kind}"
        self.link = link
        self.confirmation = confirmation
        super().__init__()


class DownloadProblem(AvtalError):
    """Why a final-PDF link cannot be used: 'invalid' or 'expired'."""

    MESSAGES = {
        "invalid": "Länken till det slutliga avtalet är ogiltig. Kontrollera att du har kopierat hela länken.",
        "expired": "Länken till det slutliga avtalet har gått ut. Be handläggaren som skickade avtalet om en kopia.",
    }

    def __init__(self, kind):
        self.kind = kind
        self.code = f"download-{kind}"
        super().__init__(self.MESSAGES[kind])


class BackupError(AvtalError):
    """A backup or restore that cannot be made; `message` names what is wrong."""

    code = "backup-failed"
