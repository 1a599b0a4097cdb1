"""Finding agreements: the officials' list, the archive search and the API all list here.

Search folds case and accents the way people type on any keyboard ("Skane" finds
"Skåne"), and matches diarienummer and organisation numbers with or without spaces and
dashes. It runs in SQL on a column derived from the agreement's data whenever the data
is saved (`index_columns`), so it needs nothing SQLite or PostgreSQL has on its own.
Pages are keyset pages (a cursor names the last row shown), and each row's progress is
counted in the same query as the rows themselves.
"""

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import defer

from . import signing
from .errors import InvalidInput
from .models import Agreement, AgreementHandler, Party

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SORT_LABELS = {"updated": "Senast ändrade", "title": "Titel", "status": "Status"}
STATUS_ORDER = ("draft", "sent", "declined", "completed")


class ListingError(InvalidInput):
    """A cursor or parameter the list cannot use."""


# --- folding, and the columns derived from an agreement's data ---


def fold(text: str) -> str:
    """Lower case without accents, whitespace runs as one space: 'Nätverket  SKÅNE' -> 'natverket skane'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def compact(text: str) -> str:
    """Folded letters and digits only: 'RS 2020/2741' -> 'rs20202741', '802916-1463' -> '8029161463'."""
    return re.sub(r"[\W_]+", "", fold(text))


def index_columns(data: dict) -> dict:
    """The Agreement columns lists filter and sort on, derived from the (draft) data."""
    parties = [p for p in data.get("parties") or [] if isinstance(p, dict)]
    fields = [
        str(data.get("title") or ""),
        str(data.get("registration_number") or ""),
        *(str(data.get(key) or "") for key in ("classification", "document_type", "handler_name", "unit")),
        *(str(p.get("name") or "") for p in parties),
        *(str(p.get("org_number") or "") for p in parties),
    ]
    # Folded fields one per line, then the compact forms between bars: a search word has
    # neither newline nor bar, so it never matches across two fields.
    search_text = "\n".join(fold(f) for f in fields) + "\n|" + "|".join(compact(f) for f in fields) + "|"
    period = data.get("period")
    if not isinstance(period, dict):
        period = {}
    return {
        "search_text": search_text,
        "registration_key": compact(str(data.get("registration_number") or ""))[:60],
        "party_count": len(parties),
        "period_start": _date_or_none(period.get("start")),
        "period_end": _date_or_none(period.get("end")),
    }


def _date_or_none(value):
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# --- filters and sorting ---


@dataclass(frozen=True)
class Filters:
    text: str = ""
    status: str = ""
    org_number: str = ""
    registration_number: str = ""
    period_from: date | None = None
    period_to: date | None = None
    updated_since: datetime | None = None
    handled_by: int | None = None  # "Mina avtal": a user id, its creator or one of its handläggare


def _conditions(filters: Filters) -> list:
    conditions = []
    if words := fold(filters.text).split():
        each_word = and_(*(Agreement.search_text.contains(word, autoescape=True) for word in words))
        whole = compact(filters.text)
        conditions.append(
            or_(each_word, Agreement.search_text.contains(whole, autoescape=True)) if whole else each_word
        )
    if filters.status:
        conditions.append(Agreement.status == filters.status)
    if digits := compact(filters.org_number):
        conditions.append(Agreement.search_text.contains(f"|{digits}|", autoescape=True))
    if key := compact(filters.registration_number):
        conditions.append(Agreement.registration_key.contains(key, autoescape=True))
    if filters.period_from:
        conditions.append(Agreement.period_end >= filters.period_from)
    if filters.period_to:
        conditions.append(Agreement.period_start <= filters.period_to)
    if filters.updated_since:
        conditions.append(Agreement.updated_at >= filters.updated_since)
    if filters.handled_by is not None:
        handles = select(AgreementHandler.id).where(
            AgreementHandler.agreement_id == Agreement.id, AgreementHandler.user_id == filters.handled_by
        )
        conditions.append(or_(Agreement.created_by_id == filters.handled_by, handles.exists()))
    return conditions


_STATUS_RANK = case({status: rank for rank, status in enumerate(STATUS_ORDER)}, value=Agreement.status, else_=99)

# Each sort: (expression, descending, how a cursor value is read back); id last breaks ties.
SORTS: dict[str, list[tuple[Any, bool, Callable[[str], Any]]]] = {
    "updated": [(Agreement.updated_at, True, datetime.fromisoformat), (Agreement.id, True, int)],
    "title": [(func.lower(Agreement.title), False, str), (Agreement.id, False, int)],
    "status": [
        (_STATUS_RANK, False, int),
        (Agreement.updated_at, True, datetime.fromisoformat),
        (Agreement.id, True, int),
    ],
}


def _after(keys, values):
    """Rows strictly after the cursor's row in the order `keys` (mixed directions allowed)."""
    clauses = []
    for i, ((expr, descending, _), value) in enumerate(zip(keys, values, strict=True)):
        earlier_equal = [k[0] == v for k, v in zip(keys[:i], values[:i], strict=True)]
        clauses.append(and_(*earlier_equal, expr < value if descending else expr > value))
    return or_(*clauses)


def encode_cursor(sort, values) -> str:
    raw = json.dumps([sort, *(v.isoformat() if isinstance(v, datetime) else v for v in values)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(sort, cursor):
    """The key values a cursor carries, checked against the sort they were made for."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        keys = SORTS[sort]
        if not isinstance(raw, list) or raw[0] != sort or len(raw) != len(keys) + 1:
            raise ValueError
        return [read(value) for (_, _, read), value in zip(keys, raw[1:], strict=True)]
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeDecodeError):
        raise ListingError("Sidmarkören (cursor) är ogiltig. Börja om från första sidan.") from None


# --- the list ---


@dataclass
class Row:
    agreement: Agreement
    confirmed: int

    @property
    def progress(self) -> tuple[int, int]:
        return self.confirmed, self.agreement.party_count


@dataclass
class Page:
    rows: list[Row]
    next_cursor: str | None


def _confirmed_count():
    """Parties of the agreement whose current answer confirms its current version (a correlated subquery)."""
    current = signing.current_version_id(Agreement.id)
    count = signing.current_answer_count(Agreement.id, current, Agreement.party_count, "confirmed")
    return count.correlate(Agreement).scalar_subquery()


def progress(session, agreement) -> tuple[int, int]:
    """(confirmed, total) parties of one agreement, counted as the lists count them."""
    confirmed = session.scalar(select(_confirmed_count()).where(Agreement.id == agreement.id))
    return confirmed or 0, agreement.party_count


def page_size(value) -> int:
    """A page size from a request parameter: PAGE_SIZE when missing, at most MAX_PAGE_SIZE."""
    if value in (None, ""):
        return PAGE_SIZE
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ListingError(f"Sidstorleken ska vara ett heltal från 1 till {MAX_PAGE_SIZE}.")
    return size


def find(session, filters=Filters(), sort="updated", limit=PAGE_SIZE, cursor=None) -> Page:
    """One page of agreements matching `filters`, with progress, in one query."""
    if sort not in SORTS:
        raise ListingError("Sortera efter ändrat, titel eller status.")
    keys = SORTS[sort]
    query = (
        select(Agreement, _confirmed_count(), *(expr for expr, _, _ in keys))
        .options(defer(Agreement.data), defer(Agreement.search_text))
        .where(*_conditions(filters))
        .order_by(*(expr.desc() if descending else expr.asc() for expr, descending, _ in keys))
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(_after(keys, decode_cursor(sort, cursor)))
    results = session.execute(query).all()
    more = len(results) > limit
    results = results[:limit]
    rows = [Row(result[0], result[1] or 0) for result in results]
    next_cursor = encode_cursor(sort, results[-1][2:]) if more else None
    return Page(rows, next_cursor)


def count(session, filters=Filters()) -> int:
    return session.scalar(select(func.count(Agreement.id)).where(*_conditions(filters)))


def first_parties(session, agreement_ids, per_agreement=3) -> dict[int, list[str]]:
    """The first few party names of each agreement, for a list that cannot show thousands."""
    rows = session.execute(
        select(Party.agreement_id, Party.name)
        .join(Agreement, Agreement.id == Party.agreement_id)
        .where(
            Party.agreement_id.in_(agreement_ids),
            Party.position < Agreement.party_count,
            Party.position < per_agreement,
        )
        .order_by(Party.agreement_id, Party.position)
    )
    names: dict[int, list[str]] = {}
    for agreement_id, name in rows:
        names.setdefault(agreement_id, []).append(name)
    return names
