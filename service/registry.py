"""The registry's classification list: the processes agreements are registered under.

The admin keeps the list; an agreement saved with a process code must name one on it
(the code it already has may stay after the process is retired).
"""

import re
import unicodedata

from sqlalchemy import select

from .errors import NotFound
from .models import Classification, utcnow
from .schema import CLASSIFICATION_MAX, SchemaError, field_label
from .text import NAME_MAX, field_errors


def all_processes(session) -> list[Classification]:
    return list(session.scalars(select(Classification).order_by(Classification.code)))


def choices(session, current="") -> list[tuple[str, str]]:
    """(code, 'code label') for the form: the processes in use, and `current` if it was retired since."""
    rows = [c for c in all_processes(session) if c.retired_at is None or c.code == current]
    return [(c.code, f"{c.code} {c.label}") for c in rows]


def process(session, code) -> Classification | None:
    return session.scalars(select(Classification).where(Classification.code == code)).first() if code else None


def label_of(session, code) -> str:
    """'3.2.1 Samverkan med idéburen sektor' for a code, the code alone if unknown, '' for none."""
    row = process(session, code)
    return f"{row.code} {row.label}" if row else code


def check_classification(session, data, current="") -> None:
    """SchemaError (nothing is stored) if the data names a process that is not on the list."""
    code = str(data.get("classification") or "").strip()
    if not code or code == current:
        return
    known = session.scalars(
        select(Classification.code).where(Classification.code == code, Classification.retired_at.is_(None))
    ).first()
    if known is None:
        raise SchemaError({"classification": f"{field_label('classification')} finns inte i listan över processer"})


def add_process(session, code, label) -> Classification:
    """A new process on the list; SchemaError with Swedish messages by field, nothing stored."""
    values, errors = field_errors(
        {
            "code": ("Koden", code, CLASSIFICATION_MAX, True, True),
            "label": ("Benämningen", label, NAME_MAX, True, True),
        }
    )
    if not errors and session.scalars(select(Classification).where(Classification.code == values["code"])).first():
        errors["code"] = f"Det finns redan en process med koden {values['code']}."
    if errors:
        raise SchemaError(errors)
    row = Classification(code=values["code"], label=values["label"])
    session.add(row)
    session.flush()
    return row


def set_retired(session, process_id, retired: bool) -> Classification:
    row = session.get(Classification, process_id)
    if row is None:
        raise NotFound("Processen finns inte.")
    row.retired_at = utcnow() if retired else None
    return row


def file_stem(agreement) -> str:
    """'avtal-12-RS-2020-2741': the agreement's number and diarienummer, as its file names carry them (ASCII)."""
    folded = unicodedata.normalize("NFKD", agreement.registration_number or "")
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    dnr = re.sub(r"[^A-Za-z0-9]+", "-", ascii_only).strip("-")
    return f"avtal-{agreement.id}-{dnr}" if dnr else f"avtal-{agreement.id}"
