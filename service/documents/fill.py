"""Fill the Word templates with form data (docxtpl in a sandboxed Jinja).

An uploaded template is filled in a child process of its own, with a time budget and a
memory limit, so a template with nested loops or `{{ title * 2000000 }}` costs the
service one child for a few seconds instead of a worker thread (and the GIL) or its
memory. Every filled document is checked afterwards: its size, and that no field code
in it would make LibreOffice fetch another file.
"""

import functools
import io
import multiprocessing
import re
import resource
import zipfile
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import Unavailable
from ..formatting import FILTERS, kronor, local_clock, local_minute, no_break, place_and_date, short_title
from .constructs import unshown_constructs
from .fields import fetching_fields

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "docx"

MAIN_TEMPLATES = {"iop": "iop_agreement.docx", "overenskommelse": "overenskommelse.docx"}
SIGNING_SHEETS = {"iop": "signing_sheet_iop.docx", "overenskommelse": "signing_sheet_table.docx"}


FILL_SECONDS = 10
FILL_MEMORY_BYTES = 1024**3
MAX_FILLED_BYTES = 20 * 1024 * 1024  # the filled document's XML, uncompressed
TOO_SLOW = f"Mallen tog för lång tid att fylla i (mer än {FILL_SECONDS} sekunder). Förenkla mallens slingor."
TOO_BIG = "Det ifyllda dokumentet blev för stort. Förenkla mallens slingor och upprepningar."

_children = multiprocessing.get_context("forkserver")  # children start from a clean, single-threaded process
_children.set_forkserver_preload([__name__])


class TemplateFillError(Unavailable):
    """A template could not be filled."""


class Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, where repeating a text or list (`{{ title * 2000000 }}`) beyond what a
    filled document may hold fails at once instead of building it first for seconds."""

    intercepted_binops = frozenset(["*"])

    def call_binop(self, context, operator, left, right):
        if operator == "*" and _repeated_length(left, right) > MAX_FILLED_BYTES:
            raise OverflowError(TOO_BIG)
        return super().call_binop(context, operator, left, right)


def _repeated_length(left, right) -> int:
    """The length of `left * right` when it repeats a sequence, else 0."""
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            return len(sequence) * times
    return 0


NON_DETERMINISTIC_FILTERS = ("random",)


def jinja_environment(kind=Sandbox) -> SandboxedEnvironment:
    """The sandbox every template runs in: no attribute tricks, autoescaped XML, and of
    Jinja's globals only `range` (the sandbox's, bounded), which the built-in templates use.
    Nothing that differs between two fills: the same data give the same document."""
    env = kind(autoescape=True, undefined=StrictUndefined)
    env.globals = {"range": env.globals["range"]}
    for name in NON_DETERMINISTIC_FILTERS:
        del env.filters[name]
    env.filters.update(FILTERS)
    return env


class _CompilingOnce(Sandbox):
    """The sandbox for filling: docxtpl hands it each XML part as a string to compile, and
    a template gives the same strings every time, so each is compiled once (compiling was a
    third of a fill's time)."""

    def from_string(self, source, globals=None, template_class=None):
        if globals is None and template_class is None:
            return _compiled(source)
        return super().from_string(source, globals, template_class)


@functools.lru_cache(maxsize=32)
def _compiled(source: str):
    """A pure function's memo (like `re`'s pattern cache): the same source, the same template."""
    return jinja_environment().from_string(source)


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
# Names a template may use besides the schema's fields.
CONTEXT_NAMES = {"running_title"}


def agreement_context(agreement, signatures=None, final=False) -> dict:
    """The context for a validated agreement; `signatures` maps party index to a signature.
    `final` is true only for the signing sheet: the agreement text is filled once, before
    it is frozen, and never again (templates uploaded before that rule may still name it)."""
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
    """Render a template (a path to a built-in one, or bytes of an uploaded .docx) and
    return the .docx bytes; an uploaded one is rendered in a limited child process."""
    if isinstance(template, bytes):
        return _render_in_child(template, context)
    return _render(str(template), context)


def _render(source, context: dict) -> bytes:
    try:
        doc = DocxTemplate(io.BytesIO(source) if isinstance(source, bytes) else source)
        doc.render(context, jinja_env=jinja_environment(_CompilingOnce), autoescape=True)
    except TemplateError as exc:
        raise TemplateFillError(f"Mallen kunde inte fyllas i: {exc.message or exc.__class__.__name__}") from None
    except (OverflowError, MemoryError, RecursionError):  # e.g. range(1000000), deep recursion
        raise TemplateFillError(TOO_BIG) from None
    doc.docx.core_properties.title = context.get("title", "")  # the PDF's title (Info and XMP)
    out = io.BytesIO()
    doc.save(out)
    filled = out.getvalue()
    _check_filled(filled)
    return filled


def _check_filled(docx: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_FILLED_BYTES:
            raise TemplateFillError(TOO_BIG)
    if fetching := fetching_fields(docx):
        raise TemplateFillError(
            f"Det ifyllda dokumentet har fältkoder som hämtar andra filer ({', '.join(fetching)}). "
            "Mallen kan inte användas."
        )
    if unshown := unshown_constructs(docx):
        raise TemplateFillError(f"Det ifyllda dokumentet kan inte skickas: {unshown[0]}")


def _render_child(sender, template: bytes, context: dict) -> None:
    """In the child: fill within the memory limit and send back (True, docx) or (False, message)."""
    resource.setrlimit(resource.RLIMIT_AS, (FILL_MEMORY_BYTES, FILL_MEMORY_BYTES))
    try:
        sender.send((True, _render(template, context)))
    except TemplateFillError as exc:
        sender.send((False, exc.message))
    except Exception:  # whatever else a hostile template causes, e.g. lxml refusing a huge text
        sender.send((False, "Mallen kunde inte fyllas i."))


def _render_in_child(template: bytes, context: dict) -> bytes:
    receiver, sender = _children.Pipe(duplex=False)
    child = _children.Process(target=_render_child, args=(sender, template, context), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(FILL_SECONDS):
            raise TemplateFillError(TOO_SLOW)
        ok, result = receiver.recv()
    except EOFError:  # the child died, most likely at its memory limit
        raise TemplateFillError(TOO_BIG) from None
    finally:
        child.kill()
        child.join()
        receiver.close()
    if not ok:
        raise TemplateFillError(result)
    return result


def builtin_template(kind) -> bytes:
    return (TEMPLATE_DIR / MAIN_TEMPLATES[kind]).read_bytes()


def fill_agreement(agreement, template: bytes | None = None) -> bytes:
    """Fill the built-in template for the agreement's kind, or an uploaded `template`: the text
    the parties read and confirm, filled once when it is frozen."""
    source = template or TEMPLATE_DIR / MAIN_TEMPLATES[agreement.kind]
    return render_docx(source, agreement_context(agreement))


def fill_signing_sheet(agreement, signatures) -> bytes:
    """The filled signing sheet that follows the frozen text in the final PDF."""
    return render_docx(TEMPLATE_DIR / SIGNING_SHEETS[agreement.kind], agreement_context(agreement, signatures, True))
