"""The one rule for free text a person types: which characters are refused, and how long it may be.

Every entry point uses it: the agreement schema (so the web form, the JSON API and the
CLI), the confirmation and decline forms, and the names of uploaded templates.
"""

import re

NAME_MAX = 300  # a name or title: of a party, a signer, an agreement
PLACE_MAX = 100  # where a signer confirmed
LINE_MAX = 2_000  # one row of a list
REASON_MAX = 2_000  # why a party declines
TEXT_MAX = 20_000  # a paragraph of agreement text
TEMPLATE_NAME_MAX = 200  # what an official calls an uploaded template
REGISTRATION_NUMBER_MAX = 60  # a diarienummer
SHORT_TITLE_MAX = 80  # the running header of an agreement
EMAIL_MAX = 254  # the longest address SMTP allows
CHANGE_NOTE_MAX = 300  # what an official tells the parties changed in a new version

# XML 1.0 cannot carry C0 controls (but tab and line breaks) or surrogates, so a .docx holding
# them would be corrupt; C1 controls and noncharacters are never meant as text either.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0, 0x110000, 0x10000)
)
_FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")

# Bidi overrides, embeddings and isolates reorder what a reader sees ("Trojan Source"):
# in an agreement they could make the shown text differ from the signed one.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Why a text is refused, as the end of a Swedish sentence that starts with the field's label.
MESSAGES = {
    "forbidden_chars": "innehåller otillåtna styrtecken",
    "bidi_controls": "innehåller osynliga tecken som vänder textens riktning och kan dölja vad som står",
    "line_break": "får inte innehålla radbrytningar",
    "required": "måste fyllas i",
    "too_long": "får vara högst {limit} tecken",
}


class TextRefused(ValueError):
    """`code` names the rule broken (a key of MESSAGES); pydantic reports it as a value error."""

    def __init__(self, code, limit=None):
        self.code, self.limit = code, limit
        super().__init__(code)

    @property
    def message(self) -> str:
        return MESSAGES[self.code].format(limit=self.limit)


def clean(value: str, single_line=False) -> str:
    """`value` with line endings made '\\n' and outer whitespace stripped; TextRefused if a
    character in it could corrupt a document or hide what it says."""
    if _FORBIDDEN.search(value):
        raise TextRefused("forbidden_chars")
    if _BIDI_CONTROLS.search(value):
        raise TextRefused("bidi_controls")
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if single_line and "\n" in value:
        raise TextRefused("line_break")
    return value


def check(value: str, max_length: int, required=False, single_line=False) -> str:
    """`clean`, and refuse an empty (when required) or too long text."""
    value = clean(value, single_line)
    if required and not value:
        raise TextRefused("required")
    if len(value) > max_length:
        raise TextRefused("too_long", max_length)
    return value


def field_errors(fields) -> tuple[dict[str, str], dict[str, str]]:
    """Check form fields given as {name: (label, value, max_length, required, single_line)}.

    Returns (clean values, Swedish errors by field name)."""
    values, errors = {}, {}
    for name, (label, value, max_length, required, single_line) in fields.items():
        try:
            values[name] = check(value, max_length, required, single_line)
        except TextRefused as exc:
            errors[name] = f"{label} {exc.message}."
    return values, errors
