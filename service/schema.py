"""What an agreement's form data must look like, one schema per document kind.

Every entry point (the CLI, the web form, the JSON API) validates through
`validate_agreement`, so the rules and the Swedish error messages live here only.
"""

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .config import dnr_rule
from .errors import InvalidInput
from .text import EMAIL_MAX, LINE_MAX, NAME_MAX, REGISTRATION_NUMBER_MAX, SHORT_TITLE_MAX, TEXT_MAX, clean
from .text import MESSAGES as TEXT_MESSAGES

MAX_PARTIES = 500
MAX_ACCEDED_PARTIES = 30_000  # an open överenskommelse (Skåne's is open to 20–30 000 organisations)
MAX_LIST = 200


class SchemaError(InvalidInput):
    """Invalid form data. `errors` maps a dotted field path to a Swedish message."""

    def __init__(self, errors):
        super().__init__(errors=errors)


def luhn_ok(digits: str) -> bool:
    """The check digit rule of an organisationsnummer (the Luhn algorithm over ten digits)."""
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def format_org_number(value: str) -> str | None:
    """'NNNNNN-NNNN' for ten digits typed with or without hyphen and spaces; None if not ten digits."""
    digits = value.replace("-", "").replace(" ", "").strip()
    return f"{digits[:6]}-{digits[6:]}" if re.fullmatch(r"\d{10}", digits) else None


def _check_org_number(value: str) -> str:
    if not value.replace("-", "").replace(" ", ""):
        raise ValueError("required")
    formatted = format_org_number(value)
    if formatted is None:
        raise ValueError("org_number_format")
    if not luhn_ok(formatted.replace("-", "")):
        raise ValueError("org_number_luhn")
    return formatted


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_MAILBOX = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+{_LABEL}")


def is_mailbox(value: str) -> bool:
    """One plain mailbox (local@domain) and nothing else: no list, display name or brackets,
    so that mail to it reaches exactly one recipient."""
    return _MAILBOX.fullmatch(value) is not None


def _check_email(value: str) -> str:
    if value and not is_mailbox(value):
        raise ValueError("email")
    return value


Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(clean)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(clean)]
OptionalName = Annotated[str, Field(max_length=NAME_MAX), AfterValidator(clean)]
Line = Annotated[str, Field(min_length=1, max_length=LINE_MAX), AfterValidator(clean)]
OrgNumber = Annotated[str, Field(max_length=20), AfterValidator(_check_org_number)]
Email = Annotated[str, Field(max_length=EMAIL_MAX), AfterValidator(clean), AfterValidator(_check_email)]


class OnePerLine:
    """Marks a list of short texts that the form shows as one textarea, one item per line,
    instead of a numbered row per item (forms.Lines)."""


Lines = Annotated[list[Line], Field(max_length=MAX_LIST), OnePerLine()]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Representative(_Model):
    name: Name
    title: OptionalName = ""


class Resources(_Model):
    text: Text = ""
    amount_kr: Annotated[int, Field(ge=0, le=10**12)] | None = None


class Party(_Model):
    name: Name
    org_number: OrgNumber
    kind: Literal["offentlig", "idéburen"]
    contact_email: Email = ""
    description: Text = ""
    responsibilities: Text = ""
    resources: Resources = Resources()
    representative: Representative


class Period(_Model):
    start: date
    end: date
    extension_years: Annotated[int, Field(ge=0, le=50)] = 0

    @model_validator(mode="after")
    def _end_after_start(self):
        if self.end <= self.start:
            raise ValueError("end_before_start")
        return self


class Goal(_Model):
    heading: Name
    text: Text = ""


class Body(_Model):
    heading: Name
    items: Lines = []


CLASSIFICATION_MAX = 40  # a process code in the region's klassificeringsstruktur, e.g. 3.2.1


def _sending(info: ValidationInfo) -> bool:
    """Whether the rules of sending apply (not to a preview, nor to what was frozen under earlier settings)."""
    return not info.context or info.context.get("for_sending", True)


def _registered_before_sending(value: str, info: ValidationInfo) -> str:
    """Required before sending, in the form AVTAL_DNR_PATTERN gives; a draft may lack it, not have it wrong."""
    if not _sending(info):
        return value
    if not value:
        raise ValueError("required")
    if not re.fullmatch(dnr_rule()[0], value):
        raise ValueError("dnr_format")
    return value


RegistrationNumber = Annotated[
    str,
    Field(max_length=REGISTRATION_NUMBER_MAX, validate_default=True),
    AfterValidator(clean),
    AfterValidator(_registered_before_sending),
]
ProcessCode = Annotated[str, Field(max_length=CLASSIFICATION_MAX), AfterValidator(clean)]  # on the admin's list


DEFAULT_PRINCIPLES = [
    "självständighet och oberoende",
    "dialog",
    "kvalitet",
    "öppenhet och insyn",
    "långsiktighet",
    "mångfald",
]


class IopAgreement(_Model):
    kind: Literal["iop"]
    title: Name
    short_title: Annotated[str, Field(max_length=SHORT_TITLE_MAX), AfterValidator(clean)] = ""  # the running header
    registration_number: RegistrationNumber = ""
    classification: ProcessCode = ""  # what the registry and the e-archive need, with the period
    document_type: OptionalName = ""
    handler_name: OptionalName = ""
    unit: OptionalName = ""
    introduction: Text = ""
    parties: Annotated[list[Party], Field(min_length=2, max_length=MAX_PARTIES)]
    period: Period
    principles: Annotated[list[Line], Field(min_length=1, max_length=50)] = DEFAULT_PRINCIPLES
    values_text: Text = ""
    goals_intro: Text = ""
    goals: Annotated[list[Goal], Field(max_length=MAX_LIST)] = []
    activities_intro: Text = ""
    activities: Annotated[list[Line], Field(max_length=MAX_LIST)] = []
    activities_outro: Text = ""
    cooperation_intro: Text = ""
    bodies: Annotated[list[Body], Field(max_length=50)] = []
    cooperation_outro: Text = ""
    follow_up: Text = ""
    resources_outro: Text = ""
    notice_months: Annotated[int, Field(ge=0, le=120)]


class Section(_Model):
    heading: OptionalName = ""
    text: Text = ""


class Principle(_Model):
    heading: Name
    text: Text = ""
    actions: Lines = []
    responsibilities: Lines = []


class Overenskommelse(_Model):
    kind: Literal["overenskommelse"]
    title: Name
    short_title: Annotated[str, Field(max_length=SHORT_TITLE_MAX), AfterValidator(clean)] = ""  # the running header
    registration_number: RegistrationNumber = ""
    classification: ProcessCode = ""
    document_type: OptionalName = ""
    handler_name: OptionalName = ""
    unit: OptionalName = ""
    period: Period | None = None  # kept for the registry and the archive; the built-in text does not print it
    sections: Annotated[list[Section], Field(max_length=50)] = []
    principles_intro: Text = ""
    principles: Annotated[list[Principle], Field(max_length=50)] = []
    goals_heading: OptionalName = "Målbild"
    goals: Lines = []
    signing_text: Text = ""
    # Accepted as before, but unused: the text sent for signing holds no sheet to fill in on paper.
    blank_rows: Annotated[int, Field(ge=0, le=50)] = 0
    parties: Annotated[list[Party], Field(min_length=1, max_length=MAX_ACCEDED_PARTIES)]

    @field_validator("period", mode="before")
    @classmethod
    def _blank_period_is_none(cls, value):
        """The form sends an empty group for a period left blank."""
        if isinstance(value, dict) and not any(value.get(key) for key in ("start", "end")):
            return None
        return value


Agreement = Annotated[IopAgreement | Overenskommelse, Field(discriminator="kind")]
_agreement_adapter = TypeAdapter(Agreement)

KIND_LABELS = {"iop": "Idéburet offentligt partnerskap (IOP)", "overenskommelse": "Överenskommelse"}

FIELD_LABELS = {
    "kind": "Avtalstyp",
    "title": "Titel",
    "short_title": "Kort titel",
    "registration_number": "Diarienummer",
    "introduction": "Inledning",
    "parties": "Parter",
    "name": "Namn",
    "org_number": "Organisationsnummer",
    "contact_email": "E-postadress",
    "description": "Beskrivning",
    "responsibilities": "Ansvarsområden",
    "resources": "Resurser",
    "amount_kr": "Belopp (kr per år)",
    "text": "Text",
    "representative": "Ombud",
    "period": "Period",
    "start": "Startdatum",
    "end": "Slutdatum",
    "extension_years": "Förlängning (år)",
    "principles": "Principer",
    "values_text": "Värdegrund",
    "goals_intro": "Målbild, inledning",
    "goals": "Målbild",
    "heading": "Rubrik",
    "activities_intro": "Verksamhet, inledning",
    "activities": "Insatser",
    "activities_outro": "Verksamhet, avslutning",
    "cooperation_intro": "Organisation och samverkan, inledning",
    "bodies": "Samverkansorgan",
    "items": "Punkter",
    "cooperation_outro": "Organisation och samverkan, avslutning",
    "follow_up": "Uppföljning",
    "resources_outro": "Resurser, avslutning",
    "notice_months": "Uppsägningstid (månader)",
    "sections": "Avsnitt",
    "principles_intro": "Principer, inledning",
    "actions": "Åtgärder",
    "goals_heading": "Målbild, rubrik",
    "signing_text": "Signeringstext",
    "blank_rows": "Tomma rader för signering på papper (används inte: texten har ingen signeringssida)",
    "classification": "Klassificering (process)",
    "document_type": "Handlingstyp",
    "handler_name": "Handläggare",
    "unit": "Enhet",
}

_CUSTOM_MESSAGES = {
    **TEXT_MESSAGES,
    "org_number_format": "ska ha tio siffror (NNNNNN-NNNN)",
    "org_number_luhn": "har fel kontrollsiffra",
    "email": "är inte en giltig e-postadress",
    "end_before_start": "har ett slutdatum som inte är efter startdatum",
    "classification": "finns inte i listan över processer",
}


def _dnr_message() -> str:
    return f"har fel form, skriv det till exempel {dnr_rule()[1]}"


def _message(err) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        reason = str(ctx.get("error", ""))
        if reason == "dnr_format":
            return _dnr_message()
        return _CUSTOM_MESSAGES.get(reason, "har ett ogiltigt värde")
    if kind == "string_unicode":  # a lone surrogate, found by pydantic before the text rule runs
        return _CUSTOM_MESSAGES["forbidden_chars"]
    if kind == "missing":
        return "måste fyllas i"
    if kind == "string_too_short":
        return "måste fyllas i"
    if kind == "string_too_long":
        return f"får vara högst {ctx.get('max_length')} tecken"
    if kind == "too_short":
        return f"måste ha minst {ctx.get('min_length')} rader"
    if kind == "too_long":
        return f"får ha högst {ctx.get('max_length')} rader"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "måste vara ett heltal"
    if kind == "greater_than_equal":
        return f"får inte vara mindre än {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"får inte vara större än {ctx.get('le')}"
    if kind.startswith("date"):
        return "måste vara ett datum (ÅÅÅÅ-MM-DD)"
    if kind in ("literal_error", "union_tag_invalid", "union_tag_not_found"):
        return "har ett värde som inte är tillåtet"
    if kind == "extra_forbidden":
        return "är ett okänt fält"
    if kind in ("string_type", "list_type", "model_type", "dict_type", "model_attributes_type"):
        return "har fel typ"
    return "har ett ogiltigt värde"


def _path(loc) -> str:
    # Drop the discriminator tag pydantic puts first ("iop"/"overenskommelse").
    parts = [str(p) for p in loc]
    if parts and parts[0] in KIND_LABELS:
        parts = parts[1:]
    return ".".join(parts) or "kind"


# One item of a list, as in 'Part 2: Organisationsnummer'.
ITEM_LABELS = {
    "parties": "Part",
    "goals": "Mål",
    "activities": "Insats",
    "bodies": "Samverkansorgan",
    "items": "Punkt",
    "principles": "Princip",
    "actions": "Åtgärd",
    "responsibilities": "Ansvar",
    "sections": "Avsnitt",
}


def field_label(path: str) -> str:
    """A Swedish label for a dotted path, e.g. 'parties.1.org_number' -> 'Part 2: Organisationsnummer'."""
    parts = path.split(".")
    words = []
    for i, part in enumerate(parts):
        if part.isdigit():
            continue
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            words.append(f"{ITEM_LABELS.get(part, FIELD_LABELS.get(part, part))} {int(parts[i + 1]) + 1}")
        else:
            words.append(FIELD_LABELS.get(part, part))
    return ": ".join(words)


def validate_agreement(data, for_sending=True) -> IopAgreement | Overenskommelse:
    """Validate raw form data as it must be to be sent; raise SchemaError with Swedish messages per field.

    `for_sending=False`: a preview, or data frozen earlier (a version made final, a rendition),
    read without the rules of sending that settings may have changed since (the diarienummer's form)."""
    if not isinstance(data, dict):
        raise SchemaError({"kind": "Indata måste vara ett JSON-objekt"})
    try:
        return _agreement_adapter.validate_python(data, context={"for_sending": for_sending})
    except ValidationError as exc:
        raise SchemaError(_errors(exc.errors())) from None


def _errors(details) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in details:
        path = _path(err["loc"])
        errors.setdefault(path, f"{field_label(path)} {_message(err)}")
    return errors


# What a draft may still lack or have unfinished: it saves, and sending lists it.
_UNFINISHED_TYPES = {
    "missing",
    "string_too_short",
    "too_short",
    "int_parsing",
    "int_type",
    "int_from_float",
    "greater_than_equal",
    "less_than_equal",
    "literal_error",
}
_UNFINISHED_REASONS = {"required", "org_number_format", "org_number_luhn", "email", "end_before_start"}


def _unfinished(err) -> bool:
    if err["type"] == "value_error":
        return str((err.get("ctx") or {}).get("error", "")) in _UNFINISHED_REASONS
    return err["type"] in _UNFINISHED_TYPES or err["type"].startswith("date")


def validate_draft(data) -> tuple[dict, dict[str, str]]:
    """A draft as it may be stored, and what it still lacks before it can be sent.

    A draft saves with whatever is filled in: missing or unfinished fields are returned,
    not raised. SchemaError only for what must never be stored even in a draft: text
    too long, hidden characters, unknown fields, values of the wrong shape.
    """
    if not isinstance(data, dict):
        raise SchemaError({"kind": "Indata måste vara ett JSON-objekt"})
    try:
        return _agreement_adapter.validate_python(data).model_dump(mode="json"), {}
    except ValidationError as exc:
        details = exc.errors()
    if refused := [err for err in details if not _unfinished(err)]:
        raise SchemaError(_errors(refused)) from None
    return {**data, "parties": data.get("parties", [])}, _errors(details)


_party_adapter = TypeAdapter(Party)


def validate_party(data) -> dict:
    """One party as the agreement stores it; SchemaError with Swedish messages per field."""
    try:
        return _party_adapter.validate_python(data).model_dump(mode="json")
    except ValidationError as exc:
        raise SchemaError(_errors(exc.errors())) from None


def missing_for_sending(data) -> dict[str, str]:
    """What must be filled in or corrected before the agreement can be sent; empty when ready."""
    try:
        validate_agreement(data)
    except SchemaError as exc:
        return exc.errors
    return {}


def org_number_or_blank(value) -> str:
    """The organisation number as NNNNNN-NNNN, or '' when it is not a valid one (yet)."""
    try:
        return _check_org_number(str(value or ""))
    except ValueError:
        return ""
