"""Swedish conventions for numbers and dates in documents and pages."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
NUMBER_WORDS = [
    "noll",
    "ett",
    "två",
    "tre",
    "fyra",
    "fem",
    "sex",
    "sju",
    "åtta",
    "nio",
    "tio",
    "elva",
    "tolv",
]


def kronor(amount) -> str:
    """1750000 -> '1 750 000 kr'."""
    return f"{int(amount):,}".replace(",", " ") + " kr"


def iso_date(value: date) -> str:
    return value.isoformat()


def short_date(value: date) -> str:
    """As in 'Kristianstad den 9/3 2021'."""
    return f"{value.day}/{value.month} {value.year}"


def long_date(value: date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def join_sv(items) -> str:
    """['a', 'b', 'c'] -> 'a, b och c'."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " och " + items[-1]


def local_time(moment: datetime) -> datetime:
    """A UTC timestamp (naive UTC as stored, or aware) in Swedish local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM)


def local_minute(moment: datetime) -> str:
    """'2021-03-16 14:02' in Europe/Stockholm."""
    return local_time(moment).strftime("%Y-%m-%d %H:%M")


FILTERS = {
    "kr": kronor,
    "datum": iso_date,
    "kortdatum": short_date,
    "langdatum": long_date,
    "antal": number_word,
    "join_sv": join_sv,
}
