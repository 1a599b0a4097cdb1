"""Who may do what: the role sets every blueprint checks and tests/test_roles.py reads, and
the handläggare of an agreement, the only officials who may change it.

A new route takes one of these sets; a new role is added here and nowhere else. A domain
function that changes an agreement asks require_handler itself, whoever calls it.
"""

from sqlalchemy import select

from .errors import NotAllowed
from .models import AgreementHandler

OFFICIAL = "official"
ARCHIVIST = "archivist"
ADMIN = "admin"

ROLES = (OFFICIAL, ARCHIVIST, ADMIN)
ROLE_NAMES = {OFFICIAL: "handläggare", ARCHIVIST: "arkivarie", ADMIN: "administratör"}

DRAFTERS = (OFFICIAL, ADMIN)  # draft, send, follow up, upload templates; write through the API
READERS = (OFFICIAL, ARCHIVIST, ADMIN)  # search the archive, read status and final PDFs
ADMINS = (ADMIN,)  # accounts, API tokens, webhooks


def handler_row(session, agreement, user) -> AgreementHandler | None:
    """The row that makes `user` a handläggare of the agreement, if there is one."""
    mine = (AgreementHandler.agreement_id == agreement.id, AgreementHandler.user_id == user.id)
    return session.scalar(select(AgreementHandler).where(*mine))


def is_handler(session, user, agreement) -> bool:
    """Whether `user` may change the agreement and issue its links: an admin, or one of
    its handläggare. Other officials may read it, nothing more."""
    if user is None:
        return False
    if user.role == ADMIN:
        return True
    return handler_row(session, agreement, user) is not None


def require_handler(session, user, agreement) -> None:
    if not is_handler(session, user, agreement):
        raise NotAllowed(
            "Bara avtalets handläggare och administratörer kan ändra avtalet eller skicka länkar. "
            "Be någon av dem att lägga till dig som handläggare."
        )
