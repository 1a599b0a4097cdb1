"""Fill the Word templates with form data (docxtpl in a sandboxed Jinja)."""

import io
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..formatting import FILTERS, local_minute

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "docx"

MAIN_TEMPLATES = {"iop": "iop_agreement.docx", "overenskommelse": "overenskommelse.docx"}
SIGNING_SHEETS = {"iop": "signing_sheet_iop.docx", "overenskommelse": "signing_sheet_table.docx"}


class TemplateFillError(Exception):
    """A template could not be filled; `message` is Swedish and safe to show."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


def jinja_environment() -> SandboxedEnvironment:
    """The sandbox every template runs in: no attribute tricks, autoescaped XML."""
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return env


def paragraphs(text: str) -> list[str]:
    """Split a form text into paragraphs on blank lines; single newlines become spaces."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in text.split("\n\n")]
    return [b for b in blocks if b.strip()]


def party_context(party, signature=None) -> dict:
    """A party as the templates see it. `signature` is a dict from signing, or None."""
    return {
        "name": party.name,
        "org_number": party.org_number,
        "kind": party.kind,
        "description": paragraphs(party.description),
        "responsibilities": paragraphs(party.responsibilities),
        "resources": {
            "text": paragraphs(party.resources.text),
            "amount_kr": party.resources.amount_kr,
        },
        "representative": {"name": party.representative.name, "title": party.representative.title},
        "signature": signature,
    }


def signature_context(place, signed_on, name, title, confirmed_at) -> dict:
    """One confirmation as the signature block shows it ('Malmö den 16/3 2021')."""
    return {
        "place": place,
        "date": signed_on,
        "name": name,
        "title": title,
        "confirmed_at_text": local_minute(confirmed_at),
    }


def agreement_context(agreement, signatures=None) -> dict:
    """The context for a validated agreement; `signatures` maps party index to a signature."""
    signatures = signatures or {}
    data = agreement.model_dump()
    context = {
        key: paragraphs(value)
        if isinstance(value, str) and key not in ("kind", "title", "registration_number", "goals_heading")
        else value
        for key, value in data.items()
    }
    context["parties"] = [party_context(p, signatures.get(i)) for i, p in enumerate(agreement.parties)]
    if agreement.kind == "iop":
        context["period"] = agreement.period.model_dump()
        context["goals"] = [{"heading": g.heading, "text": paragraphs(g.text)} for g in agreement.goals]
    else:
        context["sections"] = [{"heading": s.heading, "text": paragraphs(s.text)} for s in agreement.sections]
        context["principles"] = [
            {
                "heading": p.heading,
                "text": paragraphs(p.text),
                "actions": p.actions,
                "responsibilities": p.responsibilities,
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
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def fill_agreement(agreement, signatures=None, template: bytes | None = None) -> bytes:
    """Fill the built-in template for the agreement's kind, or an uploaded `template`."""
    source = template or TEMPLATE_DIR / MAIN_TEMPLATES[agreement.kind]
    return render_docx(source, agreement_context(agreement, signatures))


def fill_signing_sheet(agreement, signatures) -> bytes:
    return render_docx(TEMPLATE_DIR / SIGNING_SHEETS[agreement.kind], agreement_context(agreement, signatures))
