"""Rate limits kept in the shared database, so that N web hosts do not give N times the tries.

Each counted attempt is one row (scope, a hash of the key, time); a limit is exceeded when
`max_hits` rows of that key fall within the last `window` seconds. Rows older than the
window are removed as new ones arrive: they are counters, not records.
"""

import hashlib
from datetime import timedelta

from sqlalchemy import delete, func, select

from .models import LimitHit, utcnow


class RateLimit:
    def __init__(self, db, scope, max_hits, window, clock=utcnow):
        self.db = db
        self.scope = scope
        self.max_hits = max_hits
        self.window = timedelta(seconds=window)
        self.clock = clock

    def _key(self, parts) -> str:
        return hashlib.sha256("\x1f".join((self.scope, *parts)).encode()).hexdigest()

    def blocked(self, *parts: str) -> bool:
        """Whether the key has used up its attempts within the window."""
        with self.db.session() as session:
            recent = session.scalar(
                select(func.count(LimitHit.id)).where(
                    LimitHit.key_sha256 == self._key(parts), LimitHit.at > self.clock() - self.window
                )
            )
        return recent >= self.max_hits

    def record(self, *parts: str) -> None:
        key, now = self._key(parts), self.clock()
        with self.db.session() as session:
            session.execute(delete(LimitHit).where(LimitHit.key_sha256 == key, LimitHit.at <= now - self.window))
            session.add(LimitHit(key_sha256=key, at=now))

    def reset(self, *parts: str) -> None:
        with self.db.session() as session:
            session.execute(delete(LimitHit).where(LimitHit.key_sha256 == self._key(parts)))

    def allow(self, *parts: str) -> bool:
        """Count this attempt and say whether it is within the limit (for pages every
        request of which counts, such as the public verification page)."""
        if self.blocked(*parts):
            return False
        self.record(*parts)
        return True


def login_throttle(db) -> RateLimit:
    """Failed logins per (email, IP): five in a quarter of an hour."""
    return RateLimit(db, "login", max_hits=5, window=15 * 60)


def verification_limit(db) -> RateLimit:
    """Files checked on the public verification page per IP: thirty in ten minutes."""
    return RateLimit(db, "verify", max_hits=30, window=10 * 60)
