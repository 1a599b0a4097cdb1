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

    def count(self, *parts: str) -> int:
        """Attempts of the key within the window."""
        with self.db.session() as session:
            return session.scalar(
                select(func.count(LimitHit.id)).where(
                    LimitHit.key_sha256 == self._key(parts), LimitHit.at > self.clock() - self.window
                )
            )

    def blocked(self, *parts: str) -> bool:
        """Whether the key has used up its attempts within the window."""
        return self.count(*parts) >= self.max_hits

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


class LoginThrottle:
    """Failed logins, counted for a quarter of an hour. An address is refused after five
    for one account or thirty for any; an account is only slowed down, by a wait before
    its password is checked that doubles with each failure past five, up to MAX_DELAY:
    whoever guesses at someone's account cannot keep the right password from a new address out.
    The address is the client's own when AVTAL_TRUSTED_PROXIES names the proxy hops."""

    WINDOW = 15 * 60
    SLOW_AFTER = 5
    MAX_DELAY = 2.0

    def __init__(self, db, clock=utcnow):
        self.pair = RateLimit(db, "login", max_hits=5, window=self.WINDOW, clock=clock)
        self.address = RateLimit(db, "login-address", max_hits=30, window=self.WINDOW, clock=clock)
        self.account = RateLimit(db, "login-account", max_hits=0, window=self.WINDOW, clock=clock)

    def blocked(self, email: str, address: str) -> bool:
        return self.pair.blocked(email, address) or self.address.blocked(address)

    def delay(self, email: str) -> float:
        """Seconds to wait before checking this account's password."""
        past = self.account.count(email) - self.SLOW_AFTER
        return 0.0 if past < 0 else min(0.25 * 2**past, self.MAX_DELAY)

    def failed(self, email: str, address: str) -> None:
        self.pair.record(email, address)
        self.address.record(address)
        self.account.record(email)

    def succeeded(self, email: str, address: str) -> None:
        self.pair.reset(email, address)


def verification_limit(db) -> RateLimit:
    """Files checked on the public verification page per IP: thirty in ten minutes."""
    return RateLimit(db, "verify", max_hits=30, window=10 * 60)
