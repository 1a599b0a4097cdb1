"""Word templates uploaded by officials: checked before they are kept, then used to fill drafts.

An uploaded template is code of a kind: Jinja runs in it, and LibreOffice follows what
it links to. So before one is stored we read it as the sandbox and LibreOffice would,
and refuse, with a Swedish reason, anything the sandbox forbids (attributes starting
with '_', imports and includes, unknown filters or variables) and anything that makes
the server fetch from elsewhere (external images or objects, INCLUDE/LINK fields).
"""

import io
import zipfile
from dataclasses import dataclass, field

from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, meta, nodes
from lxml import etree

from . import text
from .documents.fields import FETCHING, external_links, field_instructions, field_type
from .documents.fill import CONTEXT_NAMES, jinja_environment
from .errors import InvalidInput
from .models import CustomTemplate
from .schema import IopAgreement, Overenskommelse

KNOWN_VARIABLES = {
    "iop": set(IopAgreement.model_fields) | CONTEXT_NAMES,
    "overenskommelse": set(Overenskommelse.model_fields) | CONTEXT_NAMES,
}
DEFAULT_NAME = "Uppladdad mall"
MAX_MEMBERS = 500
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024
NOT_A_DOCX = "Filen är inte ett giltigt Word-dokument (.docx)."


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


def _zip_problems(data: bytes) -> list[str]:
    """Sizes as the zip directory states them, read before any member is unpacked (a 1 MB
    upload may unpack to gigabytes); zipfile stops reading a member at its stated size."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        return [f"Filen innehåller för många delar ({len(members)}, högst {MAX_MEMBERS})."]
    if sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        return [f"Filen blir för stor uppackad (högst {MAX_UNCOMPRESSED_BYTES // 1024**2} MB)."]
    return []


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
        if too_big := _zip_problems(data):
            raise TemplateRejected(too_big)
        source = _jinja_source(data)
    except TemplateRejected:
        raise
    except Exception:  # a corrupt upload can fail deep inside zip, lxml or python-docx
        raise TemplateRejected([NOT_A_DOCX]) from None
    env = jinja_environment()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected([f"Mallen har ett fel i sin mallkod på rad {exc.lineno}: {exc.message}."]) from None
    try:
        reasons = _external_fetches(data) + _sandbox_violations(tree, env)
    except (zipfile.BadZipFile, etree.XMLSyntaxError):
        raise TemplateRejected([NOT_A_DOCX]) from None
    try:
        variables = sorted(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError:  # an unknown filter: already among the reasons
        variables = []
    if any(node.name == "self" for node in tree.find_all(nodes.Name)):  # Jinja's template object
        variables = sorted({*variables, "self"})
    unknown = [v for v in variables if v not in KNOWN_VARIABLES[kind]]
    if unknown:
        reasons.append(f"Mallen använder variabler som tjänsten inte känner till: {', '.join(unknown)}.")
    if reasons:
        raise TemplateRejected(reasons)
    return TemplateReport(variables)


def name_from_filename(filename: str) -> str:
    """What to call a template the official gave no name: its file name, if that is clean text."""
    try:
        return text.clean(filename, single_line=True)[: text.TEMPLATE_NAME_MAX] or DEFAULT_NAME
    except text.TextRefused:
        return DEFAULT_NAME


def store_template(session, files, data: bytes, name: str, kind: str, user) -> CustomTemplate:
    """Check and keep an upload; `name` has passed the text rule (text.check)."""
    report = check_template(data, kind)
    template = CustomTemplate(
        name=name or DEFAULT_NAME,
        kind=kind,
        sha256=files.put(data),
        variables=report.variables,
        uploaded_by_id=user.id if user else None,
    )
    session.add(template)
    session.flush()
    return template
