"""Word templates uploaded by officials: checked before they are kept, then used to fill drafts.

An uploaded template is code of a kind: Jinja runs in it, and LibreOffice follows what
it links to. So before one is stored we read it as the sandbox and LibreOffice would,
and refuse, with a Swedish reason, anything the sandbox forbids (attributes starting
with '_', imports and includes, unknown filters or variables) and anything that makes
the server fetch from elsewhere (external images or objects, INCLUDE/LINK fields).
"""

import difflib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, meta, nodes
from lxml import etree
from sqlalchemy import select

from . import audit, text, zips
from .documents.constructs import unshown_constructs
from .documents.fields import FETCHING, external_links, field_instructions, field_type
from .documents.fill import CONTEXT_NAMES, agreement_context, builtin_template, jinja_environment
from .documents.tags import place_of_name, tag_problems
from .errors import InvalidInput
from .models import CustomTemplate, TemplateChoice
from .schema import FIELD_LABELS, IopAgreement, Overenskommelse, validate_agreement

KNOWN_VARIABLES = {
    "iop": set(IopAgreement.model_fields) | CONTEXT_NAMES,
    "overenskommelse": set(Overenskommelse.model_fields) | CONTEXT_NAMES,
}
# An agreement text names the parties that confirm it: a template must loop over them.
REQUIRED_LOOPS = ("parties",)
DEFAULT_NAME = "Uppladdad mall"
MAX_MEMBERS = 500
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024
NOT_A_DOCX = "Filen är inte ett giltigt Word-dokument (.docx)."
USES_FINAL = (
    "Mallen använder variabeln final. Avtalstexten fylls i en gång, när den låses för signering, och är "
    "densamma i den slutliga PDF:en; sidan med parternas underskrifter lägger tjänsten till efter texten. "
    "Ta bort villkoren med final ur mallen."
)


class TemplateRejected(InvalidInput):
    """The upload cannot be used; `reasons` are Swedish sentences for the official."""

    def __init__(self, reasons):
        self.reasons = reasons
        super().__init__(" ".join(reasons))


@dataclass
class TemplateReport:
    variables: list[str]
    reasons: list[str] = field(default_factory=list)


def _jinja_source(data: bytes) -> str:
    """The Jinja text of the body, headers and footers, as docxtpl will see it."""
    template = DocxTemplate(io.BytesIO(data))
    template.init_docx()
    source = template.patch_xml(template.get_xml())
    for rel in template.docx.part.rels.values():
        if rel.reltype in (RT.HEADER, RT.FOOTER) and not rel.is_external:
            source += template.patch_xml(template.xml_to_string(etree.fromstring(rel.target_part.blob)))
    return source


def _external_fetches(data: bytes) -> list[str]:
    """External images, objects and linked parts (any external relationship but a hyperlink's,
    r:link, VML hrefs), and field codes that fetch files (runs joined, any case), or whose
    field type Jinja would only write when the template is filled."""
    reasons = [f"Mallen hämtar innehåll från en extern adress ({target[:80]})." for target in external_links(data)]
    instructions = field_instructions(data)
    if any(field_type(i) in FETCHING for i in instructions):
        reasons.append("Mallen innehåller fältkoder som hämtar andra filer (INCLUDE, LINK eller DDE).")
    if any("{{" in i or "{%" in i for i in instructions):
        reasons.append("Mallen har mallkod inuti en fältkod, vilket inte är tillåtet.")
    return sorted(set(reasons))


def _sandbox_violations(tree, env) -> list[str]:
    reasons = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
        if isinstance(name, str) and name.startswith("_"):
            reasons.add(f"Mallen försöker nå det interna attributet '{name}', vilket sandlådan inte tillåter.")
    if any(tree.find_all((nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends))):
        reasons.add("Mallen försöker läsa in andra mallar (import, include eller extends), vilket inte är tillåtet.")
    for node in tree.find_all(nodes.Filter):
        if node.name not in env.filters:
            reasons.add(f"Mallen använder filtret '{node.name}', som inte finns.")
        elif node.name == "attr" and any(
            isinstance(arg, nodes.Const) and str(arg.value).startswith("_") for arg in node.args
        ):
            reasons.add("Mallen försöker nå interna attribut med filtret 'attr', vilket sandlådan inte tillåter.")
    return sorted(reasons)


def check_template(data: bytes, kind: str) -> TemplateReport:
    """Read an uploaded .docx; raise TemplateRejected with every reason it cannot be used."""
    try:
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ValueError
        # Sizes as the zip directory states them, read before any member is unpacked.
        if too_big := zips.unpack_problems(data, MAX_MEMBERS, MAX_UNCOMPRESSED_BYTES):
            raise TemplateRejected(too_big)
        source = _jinja_source(data)
        env = jinja_environment()
        misplaced = tag_problems(data, env)
    except TemplateRejected:
        raise
    except Exception:  # a corrupt upload can fail deep inside zip, lxml or python-docx
        raise TemplateRejected([NOT_A_DOCX]) from None
    if misplaced:
        raise TemplateRejected(misplaced)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(
            [f"Mallen har ett fel i sin mallkod ({exc.message}). Jämför taggarna med fältreferensen och rätta dem."]
        ) from None
    try:
        reasons = _external_fetches(data) + _sandbox_violations(tree, env) + unshown_constructs(data)
    except (zipfile.BadZipFile, etree.XMLSyntaxError):
        raise TemplateRejected([NOT_A_DOCX]) from None
    try:
        variables = sorted(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError:  # an unknown filter: already among the reasons
        variables = []
    if any(node.name == "self" for node in tree.find_all(nodes.Name)):  # Jinja's template object
        variables = sorted({*variables, "self"})
    if "final" in variables:
        reasons.append(f"{USES_FINAL} Den används första gången{_at(data, 'final')}.")
    unknown = [v for v in variables if v not in KNOWN_VARIABLES[kind] and v != "final"]
    if unknown:
        reasons.append(
            f"Mallen använder variabler som tjänsten inte känner till: {', '.join(v + _at(data, v) for v in unknown)}. "
            "Använd namnen i fältreferensen eller ta bort dem."
        )
    reasons += _missing_loops(tree)
    if reasons:
        raise TemplateRejected(reasons)
    return TemplateReport(variables)


def _at(data: bytes, name: str) -> str:
    """' i stycket som börjar ”…”' where a tag first uses `name`, for a reason's sentence."""
    place = place_of_name(data, name)
    return f" ({place})" if place else ""


def _missing_loops(tree) -> list[str]:
    looped = {node.iter.name for node in tree.find_all(nodes.For) if isinstance(node.iter, nodes.Name)}
    return [
        f"Mallen saknar slingan över {name} (formulärets ”{FIELD_LABELS[name]}”), så det som skrivs där skulle "
        f"inte komma med i avtalet. Lägg till {{%p for x in {name} %}} … {{%p endfor %}} i egna stycken, "
        "som i fältreferensen, och ladda upp mallen igen."
        for name in REQUIRED_LOOPS
        if name not in looped
    ]


def name_from_filename(filename: str) -> str:
    """What to call a template the official gave no name: its file name, if that is clean text."""
    try:
        return text.clean(filename, single_line=True)[: text.TEMPLATE_NAME_MAX] or DEFAULT_NAME
    except text.TextRefused:
        return DEFAULT_NAME


def store_template(session, files, data: bytes, name: str, kind: str, user, note="", actor=None) -> CustomTemplate:
    """Check and keep an upload as a new version of the kind's template, not yet active;
    `name` and `note` have passed the text rule (text.check). With an `actor`, it is audited."""
    report = check_template(data, kind)
    template = CustomTemplate(
        name=name or DEFAULT_NAME,
        kind=kind,
        sha256=files.put(data),
        variables=report.variables,
        uploaded_by_id=user.id if user else None,
        note=note,
    )
    session.add(template)
    session.flush()
    if actor is not None:
        audit.record(session, "template_uploaded", actor, kind=kind, template_id=template.id, sha256=template.sha256)
    return template


def record_refusal(session, data: bytes, kind: str, reasons: list[str], actor) -> None:
    """A refused upload is noted in the audit trail: who tried which file (its SHA-256), and why."""
    audit.record(
        session, "template_refused", actor, kind=kind, sha256=hashlib.sha256(data).hexdigest(), reasons=reasons
    )


# --- versions: one active per kind ---

EXAMPLES = Path(__file__).resolve().parents[1] / "scripts" / "examples"
EXAMPLE_FILES = {"iop": "iop-skane-2021.json", "overenskommelse": "overenskommelse-halland.json"}
ACTIVATE, RETIRE = "activate", "retire"
EVENTS = {ACTIVATE: "template_activated", RETIRE: "template_retired"}


def _latest_choices(session, kind) -> dict[int | None, str]:
    """Each version's latest choice (None: the built-in version), in order of making."""
    choices = session.scalars(select(TemplateChoice).where(TemplateChoice.kind == kind).order_by(TemplateChoice.id))
    return {choice.template_id: choice.action for choice in choices}


def active_template(session, kind) -> CustomTemplate | None:
    """The version new drafts of `kind` use; None for the built-in one."""
    latest = session.scalars(
        select(TemplateChoice)
        .where(TemplateChoice.kind == kind, TemplateChoice.action == ACTIVATE)
        .order_by(TemplateChoice.id.desc())
        .limit(1)
    ).first()
    return session.get(CustomTemplate, latest.template_id) if latest and latest.template_id else None


def retired_ids(session, kind) -> set[int]:
    return {tid for tid, action in _latest_choices(session, kind).items() if action == RETIRE and tid}


def activate(session, kind, template: CustomTemplate | None, user, actor) -> None:
    """Make a version (None: the built-in one) the one new drafts use; drafts made and
    agreements frozen before keep theirs."""
    if template is not None and template.kind != kind:
        raise InvalidInput("Mallen är gjord för en annan avtalstyp.")
    _choose(session, kind, ACTIVATE, template, user, actor)


def retire(session, template: CustomTemplate, user, actor) -> None:
    """Take a version out of the list for new drafts. Agreements using it keep it: it stays
    stored (by SHA-256) and their drafts are still filled from it."""
    active = active_template(session, template.kind)
    if active is not None and active.id == template.id:
        raise InvalidInput(
            "Versionen är aktiv och kan inte avvecklas. Gör en annan version aktiv först, till exempel den inbyggda."
        )
    _choose(session, template.kind, RETIRE, template, user, actor)


def _choose(session, kind, action, template, user, actor) -> None:
    session.add(
        TemplateChoice(
            kind=kind,
            action=action,
            template_id=template.id if template else None,
            chosen_by_id=user.id if user else None,
        )
    )
    audit.record(
        session,
        EVENTS[action],
        actor,
        kind=kind,
        template_id=template.id if template else None,
        sha256=template.sha256 if template else hashlib.sha256(builtin_template(kind)).hexdigest(),
    )


def version_bytes(files, kind, template: CustomTemplate | None) -> bytes:
    return files.get(template.sha256) if template else builtin_template(kind)


def document_lines(docx: bytes) -> list[str]:
    """The template's text as lines a person can compare: paragraphs, then table rows (cells split by ' | ')."""
    doc = Document(io.BytesIO(docx))
    lines = [p.text for p in doc.paragraphs if p.text.strip()]
    for number, table in enumerate(doc.tables, 1):
        lines += [f"[Tabell {number}] " + " | ".join(c.text for c in row.cells) for row in table.rows]
    return lines


def text_diff(before: bytes, after: bytes) -> list[tuple[str, str]]:
    """A readable diff of two versions' text: ('-', line) removed, ('+', line) added, (' ', line)
    unchanged context; empty when the texts are the same."""
    lines = list(difflib.unified_diff(document_lines(before), document_lines(after), lineterm="", n=1))
    return [(line[0], line[1:]) for line in lines[2:] if not line.startswith("@@")]


def example_agreement(kind):
    """The example agreement a version is previewed with and the field reference quotes."""
    return validate_agreement(json.loads((EXAMPLES / EXAMPLE_FILES[kind]).read_text(encoding="utf-8")))


def field_reference(kind) -> list[tuple[str, str, str]]:
    """(tag, Swedish description, example) for every name a main template of `kind` may use,
    read from the context the template is filled with; a list is a loop over its first item."""
    context = agreement_context(example_agreement(kind))
    return [
        row
        for name in sorted(context)
        if name not in NOT_FOR_TEXT
        for row in _reference_rows(name, context[name], name)
    ]


CONTEXT_LABELS = {
    "running_title": "Sidhuvudets titel (kort titel, annars en förkortad titel)",
    "amount_sentence": "Mening om det årliga beloppet (tom om texten redan nämner det)",
    "x.kind": "Partens slag (offentlig eller idéburen)",
}
LOOP_NAMES = ("x", "y", "z")  # a loop inside a loop needs a name of its own
NOT_FOR_TEXT = {"signature", "blank_rows", "final"}  # the signing sheet's (the service's), or unused


def _reference_rows(path, value, name, depth=0):
    label = CONTEXT_LABELS.get(path) or CONTEXT_LABELS.get(name) or FIELD_LABELS.get(name, name)
    if isinstance(value, dict):
        return [
            row
            for key in value
            if key not in NOT_FOR_TEXT
            for row in _reference_rows(f"{path}.{key}", value[key], key, depth)
        ]
    if isinstance(value, list):
        item = LOOP_NAMES[depth]
        first = value[0] if value else ""
        rows = [
            (
                f"{{%p for {item} in {path} %}} … {{%p endfor %}}",
                f"Slinga: {label}, en gång per rad ({item} är raden)",
                f"{len(value)} rader i exemplet",
            )
        ]
        if isinstance(first, dict):
            return rows + [
                row
                for key in first
                if key not in NOT_FOR_TEXT
                for row in _reference_rows(f"{item}.{key}", first[key], key, depth + 1)
            ]
        return rows + [(f"{{{{ {item} }}}}", f"{label}: en rad", str(first)[:120])]
    return [(f"{{{{ {path} }}}}", label, "" if value is None else str(value)[:120])]
