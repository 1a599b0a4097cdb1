"""Fill the Word templates with form data (docxtpl in a sandboxed Jinja)."""

import io
import re
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import Unavailable
from ..formatting import FILTERS, kronor, local_clock, local_minute, no_break, place_and_date, short_title

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "docx"

MAIN_TEMPLATES = {"iop": "iop_agreement.docx", "overenskommelse": "overenskommelse.docx"}
SIGNING_SHEETS = {"iop": "signing_sheet_iop.docx", "overenskommelse": "signing_sheet_table.docx"}


class TemplateFillError(Unavailable):
    """A template could not be filled."""


def jinja_environment() -> SandboxedEnvironment:
    """The sandbox every template runs in: no attribute tricks, autoescaped XML."""
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return env


def paragraphs(text: str) -> list[str]:
    """Split a form text into paragraphs on blank lines; single newlines become spaces."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in text.split("\n\n")]
    return [no_break(b) for b in blocks if b.strip()]


def _mentions_amount(text: list[str], amount: int) -> bool:
    return any(str(amount) in re.sub(r"\s", "", p) for p in text)


def amount_sentence(name: str, text: list[str], amount: int | None) -> str:
    """The resources clause names a yearly amount once: inside the party's own text when
    the official wrote it there, otherwise in one sentence of the template's."""
    if not amount or _mentions_amount(text, amount):
        return ""
    if text:
        return f"Det årliga beloppet från {name} är {kronor(amount)}."
    return f"{name} bidrar med {kronor(amount)} årligen."


def party_context(party, signature=None) -> dict:
    """A party as the templates see it. `signature` is a dict from signing, or None."""
    resources = paragraphs(party.resources.text)
    return {
        "name": party.name,
        "org_number": party.org_number,
        "kind": party.kind,
        "description": paragraphs(party.description),
        "responsibilities": paragraphs(party.responsibilities),
        "resources": {
            "text": resources,
            "amount_kr": party.resources.amount_kr,
            "amount_sentence": amount_sentence(party.name, resources, party.resources.amount_kr),
        },
        "representative": {"name": party.representative.name, "title": party.representative.title},
        "signature": signature,
    }


def signature_context(place, signed_on, name, title, confirmed_at) -> dict:
    """One confirmation as the signature shows it: 'Malmö den 16/3 2021', confirmed at 14:02."""
    return {
        "place": place,
        "date": signed_on,
        "place_and_date": place_and_date(place, signed_on),
        "name": name,
        "title": title,
        "time": local_clock(confirmed_at),
        "confirmed_at_text": local_minute(confirmed_at),
    }


PLAIN_FIELDS = ("kind", "title", "short_title", "registration_number", "goals_heading")
# Names a template may use besides the schema's fields. A template that uses `final` fills its
# own signing sheet in the final document; one that does not is followed by ours.
CONTEXT_NAMES = {"running_title", "final"}


def agreement_context(agreement, signatures=None, final=False) -> dict:
    """The context for a validated agreement; `signatures` maps party index to a signature.
    `final` renders the signed document: filled signatures, no blank rows for paper."""
    signatures = signatures or {}
    data = agreement.model_dump()
    context = {
        key: paragraphs(value) if isinstance(value, str) and key not in PLAIN_FIELDS else value
        for key, value in data.items()
    }
    context["running_title"] = agreement.short_title or short_title(agreement.title)
    context["final"] = final
    context["parties"] = [party_context(p, signatures.get(i)) for i, p in enumerate(agreement.parties)]
    if agreement.kind == "iop":
        context["period"] = agreement.period.model_dump()
        context["goals"] = [{"heading": g.heading, "text": paragraphs(g.text)} for g in agreement.goals]
        context["activities"] = [no_break(a) for a in agreement.activities]
    else:
        context["goals"] = [no_break(g) for g in agreement.goals]
        if final:
            context["blank_rows"] = 0
        context["sections"] = [{"heading": s.heading, "text": paragraphs(s.text)} for s in agreement.sections]
        context["principles"] = [
            {
                "heading": p.heading,
                "text": paragraphs(p.text),
                "actions": [no_break(a) for a in p.actions],
                "responsibilities": [no_break(r) for r in p.responsibilities],
            }
            for p in agreement.principles
        ]
    return context


def render_docx(template, context: dict) -> bytes:
    """Render a template (a path, or bytes of an uploaded .docx) and return the .docx bytes."""
    source = io.BytesIO(template) if isinstance(template, bytes) else str(template)
    try:
        doc = DocxTemplate(source)
        doc.render(context, jinja_env=jinja_environment(), autoescape=True)
    except TemplateError as exc:
        raise TemplateFillError(f"Mallen kunde inte fyllas i: {exc.message or exc.__class__.__name__}") from None
    doc.docx.core_properties.title = context.get("title", "")  # the PDF's title (Info and XMP)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def builtin_template(kind) -> bytes:
    return (TEMPLATE_DIR / MAIN_TEMPLATES[kind]).read_bytes()


def fill_agreement(agreement, signatures=None, template: bytes | None = None, final=False) -> bytes:
    """Fill the built-in template for the agreement's kind, or an uploaded `template`."""
    source = template or TEMPLATE_DIR / MAIN_TEMPLATES[agreement.kind]
    return render_docx(source, agreement_context(agreement, signatures, final))


def fill_signing_sheet(agreement, signatures) -> bytes:
    """The filled signing sheet that follows an uploaded template's text in the final PDF."""
    return render_docx(TEMPLATE_DIR / SIGNING_SHEETS[agreement.kind], agreement_context(agreement, signatures, True))
