"""Swedish conventions for numbers and dates in documents and pages.

One style per purpose: place and date as signed ('Kristianstad den 9/3 2021'), dates in
text and tables as ISO 8601 ('2021-03-09', as DIGG recommends), moments with a 24-hour
time ('2021-03-09 14:02', Swedish time, which each document states once). Numbers keep
their groups and units on one line with no-break spaces ('1 750 000 kr').
"""

import re
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


NBSP = "\u00a0"
UNITS = (
    "kr|kronor|tkr|mnkr|miljoner|miljarder|procent|%|år|månader|månaders|veckor|veckors|dagar|dagars"
    "|timmar|timmars|minuter|st|km|m|kg"
)
_DIGIT_GROUP = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")
_NUMBER_UNIT = re.compile(rf"(?<=\d) (?=(?:{UNITS})(?![\wåäöÅÄÖ]))")
SHORT_TITLE_MAX = 75


def no_break(text: str) -> str:
    """Keep '1 750 000 kr' and '9 månader' on one line: no-break spaces in digit groups and before units."""
    return _NUMBER_UNIT.sub(NBSP, _DIGIT_GROUP.sub(NBSP, text))


def kronor(amount) -> str:
    """1750000 -> '1 750 000 kr', with no-break spaces."""
    return f"{int(amount):,}".replace(",", NBSP) + NBSP + "kr"


def short_title(title: str) -> str:
    """A running title that fits one header line: the part before a dash or colon, else cut at a word."""
    head = re.split(r" [–—-] |: ", title, maxsplit=1)[0].strip()
    if len(head) <= SHORT_TITLE_MAX:
        return head
    return head[: SHORT_TITLE_MAX - 1].rsplit(" ", 1)[0].rstrip(",;") + "…"


def iso_date(value: date) -> str:
    return value.isoformat()


def short_date(value: date) -> str:
    """As in 'Kristianstad den 9/3 2021'."""
    return f"{value.day}/{value.month} {value.year}"


def place_and_date(place: str, value: date) -> str:
    """Where and when a party signed, as the source agreements write it: 'Kristianstad den 9/3 2021'."""
    return f"{place} den {short_date(value)}"


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


def local_clock(moment: datetime) -> str:
    """'14:02' in Europe/Stockholm, for a moment whose date is already shown."""
    return local_time(moment).strftime("%H:%M")


FILTERS = {
    "kr": kronor,
    "datum": iso_date,
    "kortdatum": short_date,
    "langdatum": long_date,
    "antal": number_word,
    "join_sv": join_sv,
}


_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value) -> str:
    """Text as a Word document can hold it. Characters XML 1.0 forbids (U+FFFE, most
    control characters, lone surrogates) become U+FFFD, so that text stored before the
    forms refused them can still be printed instead of failing the final PDF."""
    return _NOT_IN_XML.sub("\ufffd", str(value))
