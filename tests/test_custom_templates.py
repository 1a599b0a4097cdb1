import io
import zipfile

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml

from service import agreements, signing
from service.audit import Actor
from service.custom_templates import TemplateRejected, check_template, store_template
from service.documents.fill import TEMPLATE_DIR, TemplateFillError, fill_agreement
from service.models import CustomTemplate
from service.schema import validate_agreement

from .helpers import docx_with, flat, pdf_text, send_for_signature


def reasons(data, kind="iop"):
    with pytest.raises(TemplateRejected) as info:
        check_template(data, kind)
    return " ".join(info.value.reasons)


def test_built_in_templates_pass_and_list_their_variables():
    report = check_template((TEMPLATE_DIR / "iop_agreement.docx").read_bytes(), "iop")
    assert {"title", "parties", "period", "notice_months"} <= set(report.variables)
    report = check_template((TEMPLATE_DIR / "overenskommelse.docx").read_bytes(), "overenskommelse")
    assert {"principles", "blank_rows"} <= set(report.variables)


def test_internal_attributes_are_refused_with_the_reason():
    text = reasons(docx_with("{{ cycler.__init__.__globals__.os.popen('id').read() }}"))
    assert "interna attributet '__init__'" in text
    assert "'attr'" in reasons(docx_with("{{ title|attr('__class__') }}"))


def test_includes_and_unknown_filters_and_variables_are_refused():
    assert "läsa in andra mallar" in reasons(docx_with("{% include 'x.html' %}"))
    assert "filtret 'shell'" in reasons(docx_with("{{ title|shell }}"))
    assert "känner till: salary" in reasons(docx_with("{{ title }} {{ salary }}"))


def test_syntax_error_names_the_line():
    assert "fel i sin mallkod" in reasons(docx_with("{{ title "))


def test_external_image_and_include_fields_are_refused():
    doc = Document()
    doc.add_paragraph("{{ title }}")
    doc.part.relate_to("http://192.0.2.1/spy.png", RT.IMAGE, is_external=True)
    p = doc.add_paragraph()
    p._p.append(
        parse_xml(
            '<w:fldSimple xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            'w:instr=" INCLUDETEXT &quot;http://192.0.2.1/x.docx&quot; "><w:r><w:t>x</w:t></w:r></w:fldSimple>'
        )
    )
    out = io.BytesIO()
    doc.save(out)
    text = reasons(out.getvalue())
    assert "extern adress (http://192.0.2.1/spy.png)" in text and "INCLUDE" in text


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_corrupt_uploads_are_refused(data):
    assert reasons(data) == "Filen är inte ett giltigt Word-dokument (.docx)."


def test_truncated_docx_is_refused():
    data = docx_with("{{ title }}")
    assert reasons(data[: len(data) // 2]) == "Filen är inte ett giltigt Word-dokument (.docx)."


def test_zip_without_a_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hej")
    assert "inte ett giltigt Word-dokument" in reasons(out.getvalue())


@pytest.mark.slow
def test_an_uploaded_template_fills_the_agreement(app, office, iop_data):
    data = docx_with("EGEN MALL: {{ title }}", "{% for p in parties %}{{ p.name }}; {% endfor %}")
    actor = Actor("user:test@example.se")
    with app.extensions["db"].session() as session:
        template = store_template(session, app.extensions["files"], data, "Vår mall", "iop", None)
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, None, actor, template)
    send_for_signature(app, agreement.id, actor)
    with app.extensions["db"].session() as session:
        version = signing.latest_version(session, agreement.id)
        assert version.template_sha256 == template.sha256
        assert session.get(CustomTemplate, template.id).variables == ["parties", "title"]
        pdf = app.extensions["files"].get(version.pdf_sha256)
    text = flat(pdf_text(pdf))
    assert "EGEN MALL: Ett Idéburet Offentligt Partnerskap" in text
    assert "Region Skåne; NÄTVERKET – Idéburen sektor Skåne;" in text


A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_linking(element: str, rel_type=RT.HYPERLINK, target="http://10.0.0.5/intern") -> bytes:
    """A template with an external relationship `rId` (a hyperlink's type unless said) and
    `element` in its body, where {rid} is that relationship's id."""
    doc = Document()
    doc.add_paragraph("{{ title }}")
    rid = doc.part.relate_to(target, rel_type, is_external=True)
    doc.paragraphs[0]._p.append(parse_xml(element.format(rid=rid)))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "element",
    [
        f'<a:blip xmlns:a="{A_NS}" xmlns:r="{R_NS}" r:link="{{rid}}"/>',
        f'<a:blip xmlns:a="{A_NS}" xmlns:r="{R_NS}" r:embed="{{rid}}"/>',
        '<v:imagedata xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
        'o:href="http://10.0.0.5/intern"/>',
    ],
    ids=["blip-r-link-to-a-hyperlink-relationship", "blip-embeds-a-hyperlink-relationship", "vml-o-href"],
)
def test_a_linked_image_is_refused_whatever_relationship_it_names(element):
    assert "extern adress (http://10.0.0.5/intern)" in reasons(docx_linking(element))


def test_a_hyperlink_may_name_an_external_address():
    link = (
        '<w:hyperlink xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        f'xmlns:r="{R_NS}" r:id="{{rid}}"><w:r><w:t>webbplats</w:t></w:r></w:hyperlink>'
    )
    assert check_template(docx_linking(link, target="https://example.se/"), "iop").variables == ["title"]


@pytest.mark.slow
def test_a_link_that_appears_only_when_filled_is_refused(iop_data):
    """The relationship id is written by Jinja: the upload check cannot see it, the filled one does."""
    jinja_id = "{{{{ '{rid}' }}}}"  # {{ 'rId9' }} once formatted
    template = docx_linking(f'<a:blip xmlns:a="{A_NS}" xmlns:r="{R_NS}" r:embed="{jinja_id}"/>')
    assert check_template(template, "iop").variables == ["title"]
    with pytest.raises(TemplateFillError, match="http://10.0.0.5/intern"):
        fill_agreement(validate_agreement(iop_data), template=template)
