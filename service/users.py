"""Accounts: creating users, checking passwords, API tokens (the login throttle is in limits.py)."""

import hashlib
import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import InvalidInput, NotFound
from .models import ApiToken, User, utcnow
from .roles import ROLES
from .schema import is_mailbox

# werkzeug's scrypt at its default cost; the test suite sets a cheap cost (the stored
# hash names its parameters, so checking it is as cheap).
PASSWORD_METHOD = "scrypt"


class UserError(InvalidInput):
    """The user could not be created."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session, email: str, role: str, password: str) -> User:
    email = normalize_email(email)
    if role not in ROLES:
        raise UserError(f"Okänd roll: {role}. Välj en av {', '.join(ROLES)}.")
    if not is_mailbox(email):
        raise UserError("Ange en giltig e-postadress.")
    if len(password) < 10:
        raise UserError("Lösenordet måste ha minst 10 tecken.")
    if user_by_email(session, email):
        raise UserError(f"Det finns redan en användare med e-postadressen {email}.")
    user = User(email=email, role=role, password_hash=_password_hash(password))
    session.add(user)
    session.flush()
    return user


def end_sessions(session, user: User) -> None:
    """Make every session cookie issued to `user` so far invalid (logout, password change)."""
    user.session_generation += 1
    session.flush()


def set_password(session, user: User, password: str) -> None:
    """A new password; every session of the user ends, so a stolen cookie stops working."""
    if len(password) < 10:
        raise UserError("Lösenordet måste ha minst 10 tecken.")
    user.password_hash = _password_hash(password)
    end_sessions(session, user)


def all_users(session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def user_by_email(session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def has_users(session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


def _password_hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


@cache
def _dummy_hash() -> str:
    """A hash made as a real user's is, so an unknown email costs the same check."""
    return _password_hash(secrets.token_hex(16))


def authenticate(session, email: str, password: str) -> User | None:
    """The user with this email and password, or None.

    An unknown email still costs one password check, so response times do not
    reveal which addresses have accounts.
    """
    user = user_by_email(session, email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session, user: User, name: str = "") -> str:
    """A new bearer token for `user`, named after the integration that will use it.

    Only its SHA-256 is stored, so the plain token is shown this once. A fast hash
    is enough here: the token is 256 random bits, not a guessable password.
    """
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=_token_hash(token)))
    session.flush()
    return token


def user_for_token(session, token: str) -> User | None:
    """The user holding this unrevoked token; its last use is noted (to the minute, to spare writes)."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= timedelta(minutes=1):
        row.last_used_at = now
    return row.user


def tokens_of(session, user_ids) -> dict[int, list[ApiToken]]:
    """Every token of these users, newest first, by user id."""
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id.in_(user_ids)).order_by(ApiToken.id.desc()))
    out: dict[int, list[ApiToken]] = {}
    for row in rows:
        out.setdefault(row.user_id, []).append(row)
    return out


def revoke_api_token(session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("API-nyckeln finns inte.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
