"""One family of errors for the whole domain, as itsdangerous roots its errors in `BadData`.

Every error a person may see carries a Swedish `message` that is safe to show. The
domain raises the kind of problem (not found, conflict, invalid input, temporarily
unavailable) and never an HTTP status: each blueprint maps the family to a page or
JSON in one error handler.
"""


class AvtalError(Exception):
    """The root of the family; `message` is Swedish and safe to show."""

    message = "Något gick fel. Försök igen om en stund."
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


class Conflict(AvtalError):
    """The request is understood, but the state of the agreement does not allow it now."""

    message = "Det går inte att göra just nu, i avtalets nuvarande läge."


class NotAllowed(AvtalError):
    """The person may read this but not change it (e.g. an official who is not a handläggare of the agreement)."""

    message = "Du har inte behörighet att göra detta."


class InvalidInput(AvtalError):
    """What was typed or sent is not valid; `errors` maps a field to a Swedish message."""

    message = "Uppgifterna är inte giltiga."

    def __init__(self, message=None, errors=None, retry_after=None):
        self.errors = errors or {}
        super().__init__(message, retry_after)


class Unavailable(AvtalError):
    """A component we rely on (LibreOffice, the file store, mail) failed; trying again may work."""

    message = "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund."
