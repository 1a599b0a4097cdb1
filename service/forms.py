"""The agreement form: flat HTML field names to the nested data the schema validates, and back.

A field is named by its path in the data with dashes, e.g. `parties-0-representative-name`
or `goals-2-heading`. Lists of rows (parties, goals, insatser...) are numbered fields; short
lists inside a row (a body's items, a principle's åtgärder) are one textarea, one item per line.
The fields are read from the models in `schema`, so a field added there is in the form too.
"""

import copy
import functools
import re
from dataclasses import dataclass, field
from datetime import date
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from . import schema, starting_text
from .documents.fill import builtin_template
from .documents.outline import headings_over
from .errors import InvalidInput


class Text:
    """A text input or textarea: the value as typed."""


class Number:
    """A whole number. Left blank, the key is left out, so the schema's default or 'måste fyllas i' applies."""


class OptionalNumber:
    """A whole number that may be left blank (None)."""


class Date:
    """An ISO date. Left blank, the key is left out ('måste fyllas i')."""


class Lines:
    """A list of short texts in one textarea, one per line."""


@dataclass(frozen=True)
class Rows:
    """A list of repeated rows, each field numbered: `goals-0-heading`, `activities-3`."""

    item: object


def layout_of(model, skip=()) -> dict:
    """The form's fields for a pydantic model, read from its field annotations.

    A nested model is a group, a list of models or of texts is numbered rows, a list
    marked `schema.OnePerLine` is one textarea; `int | None` may be left blank.
    """
    return {
        name: _kind(info.annotation, info.metadata) for name, info in model.model_fields.items() if name not in skip
    }


def _kind(annotation, metadata=()):
    """The form field for one annotation, given its pydantic metadata."""
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        return _kind(annotation, [*metadata, *extra])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return layout_of(annotation)
    if get_origin(annotation) is list:
        if any(isinstance(mark, schema.OnePerLine) for mark in metadata):
            return Lines
        return Rows(_kind(get_args(annotation)[0]))
    if get_origin(annotation) in (Union, UnionType):
        (inner,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        inner_kind = _kind(inner)
        if inner_kind is Number:
            return OptionalNumber
        if isinstance(inner_kind, dict):  # an optional group (an överenskommelse's period): blank is None
            return inner_kind
    if annotation is int:
        return Number
    if annotation is date:
        return Date
    if annotation is str or get_origin(annotation) is Literal:
        return Text
    raise TypeError(f"no form field for {annotation!r}")


PARTY = layout_of(schema.Party)

LAYOUTS = {
    "iop": layout_of(schema.IopAgreement, skip={"kind"}),
    "overenskommelse": layout_of(schema.Overenskommelse, skip={"kind"}),
}

# The form's table of contents: (fieldset id, entry). `{name}` in an entry stands for the heading
# the template prints above the first paragraph using `name` (documents/outline.py), so the
# official finds "7. Organisation och samverkan" in the form under the number it has in the PDF,
# and a heading edited in the Word file is the form's too.
CONTENTS_ENTRIES = {
    "iop": [
        ("grunduppgifter", "Titel, diarienummer och {introduction}"),
        ("parter", "{p.description} (med {p.representative.name})"),
        ("period", "{period.start}"),
        ("vardegrund", "{values_text}"),
        ("malbild", "{goals_intro}"),
        ("verksamhet", "{activities_intro}"),
        ("samverkan", "{cooperation_intro}"),
        ("uppfoljning", "{follow_up}"),
        ("resurser", "{p.resources.text}"),
        ("uppsagning", "{notice_months}"),
    ],
    "overenskommelse": [
        ("grunduppgifter", "Titel och diarienummer"),
        ("avsnitt", "Inledande avsnitt"),
        ("principer", "{principles_intro}, numrerade 1, 2, 3 …"),
        ("malbild", "Målbild"),
        ("undertecknande", "{signing_text}"),
        ("parter", "Parter"),
    ],
}
_HEADING_OF = re.compile(r"\{([\w.]+)\}")


def contents(kind: str, template: bytes) -> list[tuple[str, str]]:
    """The table of contents for a form filled into `template` (a .docx); raises KeyError
    when the template prints one of the entries under no heading of its own."""
    entries = CONTENTS_ENTRIES[kind]
    headings = headings_over(template, [name for _, entry in entries for name in _HEADING_OF.findall(entry)])
    return [(anchor, _HEADING_OF.sub(lambda m: headings[m.group(1)], entry)) for anchor, entry in entries]


CONTENTS = {kind: contents(kind, builtin_template(kind)) for kind in CONTENTS_ENTRIES}


@functools.lru_cache(maxsize=32)  # python-docx reads a .docx slowly next to the page; versions are few
def contents_for(kind: str, template: bytes | None) -> list[tuple[str, str]]:
    """The table of contents for a draft filled into `template` (None: the built-in one); the
    built-in's entries when an uploaded template prints one of them under no heading of its own."""
    try:
        return contents(kind, template) if template else CONTENTS[kind]
    except KeyError:
        return CONTENTS[kind]


# Errors about a whole group point at the field a person would change.
_ERROR_TARGETS = {"period": "period-end"}


class FormError(InvalidInput):
    """A list action the form cannot have sent (a tampered or stale button)."""


@dataclass
class FormState:
    """What a form page shows: field values as text, errors by field, and each list's row count."""

    kind: str
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


# --- form -> data ---


def from_form(kind, form) -> dict:
    """The nested agreement data for the fields in `form` (a MultiDict or dict), rows as typed."""
    return {"kind": kind, **_read(LAYOUTS[kind], form, "")}


def party_from_form(form, index) -> dict:
    """One party from fields named `parties-<index>-...` (the accession form)."""
    return _read(PARTY, form, f"parties-{index}-")


def _read(layout, form, prefix) -> dict:
    data: dict[str, Any] = {}
    for key, kind in layout.items():
        name = prefix + key
        if isinstance(kind, dict):
            data[key] = _read(kind, form, name + "-")
        elif isinstance(kind, Rows):
            data[key] = [_read_item(kind.item, form, f"{name}-{i}") for i in _row_indices(form, name)]
        elif kind is Lines:
            data[key] = _lines(form.get(name, ""))
        elif kind is Text:
            data[key] = form.get(name, "")
        elif kind is OptionalNumber:
            data[key] = _number(form.get(name, "").strip())
        elif raw := form.get(name, "").strip():
            data[key] = _number(raw) if kind is Number else raw
    return data


def _read_item(item, form, name):
    return _read(item, form, name + "-") if isinstance(item, dict) else form.get(name, "")


def _row_indices(form, name) -> list[int]:
    """The row numbers present in the form, in order; gaps (a row removed by script) are fine."""
    pattern = re.compile(rf"{re.escape(name)}-(\d+)(?:-|$)")
    return sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})


def _lines(text) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _number(raw):
    """An int if `raw` is one (spaces as thousands separators allowed), else the text for the schema to reject."""
    if not raw:
        return None
    digits = raw.replace(" ", "").replace("\u00a0", "")
    return int(digits) if re.fullmatch(r"-?\d{1,15}", digits) else raw


def without_blank_rows(data) -> dict:
    """The data without rows left entirely empty, as saved; a party row with only a kind chosen stays."""
    layout = LAYOUTS[data["kind"]]
    clean = dict(data)
    for key, kind in layout.items():
        if isinstance(kind, Rows):
            clean[key] = [item for item in data.get(key, []) if not _is_blank(item)]
    return clean


def _is_blank(value) -> bool:
    if isinstance(value, dict):
        return all(_is_blank(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return value is None or not str(value).strip()


# --- data -> form ---


def to_form(data) -> dict[str, str]:
    """Every field's value as the form shows it."""
    return _write(LAYOUTS[data["kind"]], data, "")


def _write(layout, data, prefix) -> dict[str, str]:
    values = {}
    for key, kind in layout.items():
        name = prefix + key
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(kind, dict):
            values.update(_write(kind, value or {}, name + "-"))
        elif isinstance(kind, Rows):
            for i, item in enumerate(value or []):
                if isinstance(kind.item, dict):
                    values.update(_write(kind.item, item, f"{name}-{i}-"))
                else:
                    values[f"{name}-{i}"] = item
        elif kind is Lines:
            values[name] = "\n".join(value or [])
        else:
            values[name] = "" if value is None else str(value)
    return values


def form_state(data, errors=None) -> FormState:
    """The form for `data`, with schema errors (dotted paths) placed at their fields."""
    layout = LAYOUTS[data["kind"]]
    return FormState(
        kind=data["kind"],
        values=to_form(data),
        errors=field_errors(data["kind"], errors or {}),
        rows={key: len(data.get(key, [])) for key, kind in layout.items() if isinstance(kind, Rows)},
    )


def field_errors(kind, errors) -> dict[str, str]:
    """Schema errors keyed by the form field to show them at: 'parties.0.org_number' -> 'parties-0-org_number'."""
    placed: dict[str, str] = {}
    for path, message in errors.items():
        placed.setdefault(field_for(kind, path), message)
    return placed


def field_for(kind, path) -> str:
    """The id of the field (or group) an error path belongs to."""
    if path in _ERROR_TARGETS:
        return _ERROR_TARGETS[path]
    node: Any = LAYOUTS.get(kind, {})
    parts = []
    for part in path.split("."):
        if isinstance(node, Rows):
            if not part.isdigit():
                break
            node = node.item
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
        parts.append(part)
    return "-".join(parts) or "kind"


# --- new forms and the no-script list buttons ---


def blank_party(kind="") -> dict:
    return {**_blank(PARTY), "kind": kind}


def blank_row(kind, list_name):
    """An empty row for list `list_name`: '' for a row of one field, else a dict of empty fields."""
    return _blank(LAYOUTS[kind][list_name].item)


def _blank(kind):
    if isinstance(kind, dict):
        return {key: _blank(sub) for key, sub in kind.items()}
    if isinstance(kind, Rows) or kind is Lines:
        return []
    return "" if kind is Text else None


def new_agreement(kind) -> dict:
    """What a new form starts with."""
    if kind == "iop":
        return {
            "kind": "iop",
            "title": "",
            "short_title": "",
            "registration_number": "",
            "parties": [blank_party("offentlig"), blank_party("idéburen")],
            "period": {"extension_years": 0},
            "principles": list(schema.DEFAULT_PRINCIPLES),
            "goals": [],
            "activities": [],
            "bodies": [],
        }
    return {
        "kind": "overenskommelse",
        "title": "",
        "short_title": "",
        "registration_number": "",
        "sections": [blank_row(kind, "sections")],
        "principles_intro": starting_text.PRINCIPLES_INTRO,
        "principles": copy.deepcopy(starting_text.PRINCIPLES),
        "goals_heading": "Målbild",
        "goals": [],
        "blank_rows": 0,
        "parties": [blank_party("offentlig")],
    }


def apply_action(data, action) -> dict:
    """The data after a list button without script: 'add:parties' or 'remove:parties:2'."""
    verb, _, rest = action.partition(":")
    list_name, _, index = rest.partition(":")
    layout = LAYOUTS[data["kind"]]
    if not isinstance(layout.get(list_name), Rows):
        raise FormError(action)
    rows = list(data.get(list_name, []))
    if verb == "add" and not index:
        rows.append(blank_row(data["kind"], list_name))
    elif verb == "remove" and index.isdigit() and int(index) < len(rows):
        del rows[int(index)]
    else:
        raise FormError(action)
    return {**data, list_name: rows}
