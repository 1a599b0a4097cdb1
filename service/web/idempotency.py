"""Idempotency keys: a POST retried with the same `Idempotency-Key` gets the first answer
instead of acting twice (a create that timed out on the client's side creates one draft).

The key is claimed before the request runs, so a retry arriving while the first is still
running is told so rather than running beside it. Answers can hold signing links, and a
copy of the database must not yield working links: only the key's SHA-256 is stored, and
the answer is encrypted (AES-GCM) with a key derived from the app's secret and the client's
key, which the client sends again when it retries.
"""

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, InvalidInput
from ..models import IdempotencyKey, utcnow

MAX_KEY_LENGTH = 255
IN_FLIGHT = "En förfrågan med samma Idempotency-Key pågår redan. Försök igen om en stund."


@dataclass
class Answer:
    status: int
    body: bytes


def check_key(key: str):
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key ska vara 1–{MAX_KEY_LENGTH} synliga ASCII-tecken.")


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _cipher(secret: str, user_id: int, key: str) -> AESGCM:
    return AESGCM(hmac.new(secret.encode(), f"idempotency:{user_id}:{key}".encode(), hashlib.sha256).digest())


def begin(db, user_id: int, key: str, request_fingerprint: str, secret: str) -> Answer | None:
    """Claim `key` for this request (None: go ahead), or the stored answer to replay."""
    check_key(key)
    try:
        with db.session() as session:
            row = session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.key_sha256 == _key_hash(key)
                )
            )
            if row is None:
                session.add(
                    IdempotencyKey(
                        user_id=user_id,
                        key_sha256=_key_hash(key),
                        request_sha256=request_fingerprint,
                        created_at=utcnow(),
                    )
                )
                return None
            if row.request_sha256 != request_fingerprint:
                raise InvalidInput("Idempotency-Key har redan använts för en annan förfrågan. Använd en ny nyckel.")
            if row.status_code is None:
                raise Conflict(IN_FLIGHT, retry_after=1)
            nonce, sealed = row.response[:12], row.response[12:]
            return Answer(row.status_code, _cipher(secret, user_id, key).decrypt(nonce, sealed, None))
    except IntegrityError:  # claimed by a simultaneous request
        raise Conflict(IN_FLIGHT, retry_after=1) from None


def finish(db, user_id: int, key: str, answer: Answer, secret: str):
    """Keep the answer for retries; a server error frees the key so the request can be tried again."""
    with db.session() as session:
        where = (IdempotencyKey.user_id == user_id, IdempotencyKey.key_sha256 == _key_hash(key))
        if answer.status >= 500:
            session.execute(delete(IdempotencyKey).where(*where))
            return
        row = session.scalar(select(IdempotencyKey).where(*where))
        nonce = os.urandom(12)
        row.response = nonce + _cipher(secret, user_id, key).encrypt(nonce, answer.body, None)
        row.status_code = answer.status
