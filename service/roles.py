"""Who may do what: the role sets every blueprint checks and tests/test_roles.py reads.

A new route takes one of these sets; a new role is added here and nowhere else.
"""

OFFICIAL = "official"
ARCHIVIST = "archivist"
ADMIN = "admin"

ROLES = (OFFICIAL, ARCHIVIST, ADMIN)
ROLE_NAMES = {OFFICIAL: "handläggare", ARCHIVIST: "arkivarie", ADMIN: "administratör"}

DRAFTERS = (OFFICIAL, ADMIN)  # draft, send, follow up, upload templates; write through the API
READERS = (OFFICIAL, ARCHIVIST, ADMIN)  # search the archive, read status and final PDFs
ADMINS = (ADMIN,)  # accounts, API tokens, webhooks
