import io
import resource
import zipfile

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml

from service import agreements, forms, signing
from service.audit import Actor
from service.custom_templates import TemplateRejected, check_template, store_template
from service.documents.fill import MAX_FILLED_BYTES, TEMPLATE_DIR, TemplateFillError, fill_agreement, jinja_environment
from service.models import CustomTemplate
from service.schema import validate_agreement

from .helpers import (
    PARTIES_LOOP,
    count,
    csrf_token,
    docx_with,
    drafting_official,
    flat,
    pdf_text,
    send_for_signature,
    upload_template,
)


def reasons(data, kind="iop"):
    with pytest.raises(TemplateRejected) as info:
        check_template(data, kind)
    return " ".join(info.value.reasons)


def test_built_in_templates_pass_and_list_their_variables():
    report = check_template((TEMPLATE_DIR / "iop_agreement.docx").read_bytes(), "iop")
    assert {"title", "parties", "period", "notice_months"} <= set(report.variables)
    report = check_template((TEMPLATE_DIR / "overenskommelse.docx").read_bytes(), "overenskommelse")
    assert {"principles", "signing_text"} <= set(report.variables)
    assert "final" not in report.variables  # the text is filled once; the signing sheet comes after it


def test_internal_attributes_are_refused_with_the_reason():
    text = reasons(docx_with("{{ cycler.__init__.__globals__.os.popen('id').read() }}"))
    assert "interna attributet '__init__'" in text
    assert "'attr'" in reasons(docx_with("{{ title|attr('__class__') }}"))


def test_includes_and_unknown_filters_and_variables_are_refused():
    assert "läsa in andra mallar" in reasons(docx_with("{% include 'x.html' %}"))
    assert "filtret 'shell'" in reasons(docx_with("{{ title|shell }}"))
    assert "känner till: salary (i stycket som börjar ”{{ title }} {{ salary }}”)" in reasons(
        docx_with("{{ title }} {{ salary }}")
    )


def test_a_tag_left_open_names_its_paragraph():
    text = reasons(docx_with("Avtalet gäller {{ title ", "tle }} och mer"))
    assert "En mallkod i stycket som börjar ”Avtalet gäller {{ title”" in text
    assert "i ett och samma stycke" in text


def test_a_tag_jinja_cannot_read_names_its_paragraph_and_table_row():
    doc = Document()
    doc.add_paragraph("{%p for p in parties %}")
    doc.add_paragraph("{%p endfor %}")
    table = doc.add_table(rows=2, cols=1)
    table.rows[1].cells[0].paragraphs[0].text = "Ort {{ title | }}"
    out = io.BytesIO()
    doc.save(out)
    text = reasons(out.getvalue())
    assert "Mallkoden ”{{ title | }}” i tabell 1, rad 2, i stycket som börjar ”Ort {{ title | }}”" in text


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
        official = drafting_official(session)
        agreement = agreements.create_draft(session, app.extensions["files"], iop_data, official, actor, template)
    send_for_signature(app, agreement.id, actor)
    with app.extensions["db"].session() as session:
        version = signing.latest_version(session, agreement.id)
        assert version.template_sha256 == template.sha256
        assert session.get(CustomTemplate, template.id).variables == ["parties", "title"]
        pdf = app.extensions["files"].get(version.pdf_sha256)
    text = flat(pdf_text(pdf))
    assert "EGEN MALL: Ett Idéburet Offentligt Partnerskap" in text
    assert "Region Skåne; NÄTVERKET – Idéburen sektor Skåne;" in text


W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CLAUSE = "Regionen betalar Föreningen 1 000 000 kr per år."
# Each construct the party's page would show otherwise than the PDF: (XML appended to the clause's
# paragraph, what the refusal calls it).
UNSHOWN = {
    "tracked insertion": ('<w:ins w:id="1" w:author="A"><w:r><w:t>Föreningen betalar.</w:t></w:r></w:ins>', "infogad"),
    "tracked deletion": ('<w:del w:id="2" w:author="A"><w:r><w:delText>inte</w:delText></w:r></w:del>', "borttagen"),
    "simple field": ('<w:fldSimple w:instr=" QUOTE &quot;x&quot; "><w:r><w:t>x</w:t></w:r></w:fldSimple>', "fältkod"),
    "field with a result": (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> QUOTE "y" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>y</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
        "fältkod",
    ),
    "content control": ("<w:sdt><w:sdtContent><w:r><w:t>z</w:t></w:r></w:sdtContent></w:sdt>", "innehållskontroll"),
    "smart tag": ('<w:smartTag w:uri="u" w:element="e"><w:r><w:t>s</w:t></w:r></w:smartTag>', "smart tagg"),
    "text box": (
        "<w:r><w:pict><w:txbxContent><w:p><w:r><w:t>Ruta</w:t></w:r></w:p></w:txbxContent></w:pict></w:r>",
        "textruta",
    ),
    "hidden text": ("<w:r><w:rPr><w:vanish/></w:rPr><w:t>Dold</w:t></w:r>", "dold text"),
}


def docx_with_construct(xml) -> bytes:
    doc = Document()
    doc.add_paragraph("{{ title }}")
    paragraph = doc.add_paragraph(CLAUSE)
    for element in parse_xml(f"<w:root {W_NS}>{xml}</w:root>"):
        paragraph._p.append(element)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_linking(element: str, rel_type=RT.HYPERLINK, target="http://10.0.0.5/intern") -> bytes:
    """A template with an external relationship `rId` (a hyperlink's type unless said) and
    `element` in its body, where {rid} is that relationship's id."""
    doc = Document()
    doc.add_paragraph("{{ title }}")
    doc.add_paragraph(PARTIES_LOOP)
    rid = doc.part.relate_to(target, rel_type, is_external=True)
    doc.paragraphs[0]._p.append(parse_xml(element.format(rid=rid)))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def docx_with_xml(*paragraph_xml) -> bytes:
    """A .docx whose paragraphs are given as raw WordprocessingML (for field codes)."""
    doc = Document()
    doc.add_paragraph("{{ title }}")
    for xml in paragraph_xml:
        doc.element.body.append(parse_xml(f"<w:p {W_NS}>{xml}</w:p>"))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.mark.parametrize("construct", UNSHOWN)
def test_constructs_the_party_page_cannot_show_are_refused_naming_the_paragraph(construct):
    xml, called = UNSHOWN[construct]
    text = reasons(docx_with_construct(xml))
    assert called in text and "i stycket som börjar ”Regionen betalar Föreningen 1 000 000 kr per”" in text
    assert "Ta bort det i Word" in text


def test_hidden_text_in_a_style_is_refused_naming_the_style():
    doc = Document()
    doc.styles["Quote"].font.hidden = True
    doc.add_paragraph("{{ title }}", style="Quote")
    out = io.BytesIO()
    doc.save(out)
    assert "dold text i formatmallen ”Quote”" in reasons(out.getvalue())


def test_a_template_that_branches_on_final_is_refused():
    text = reasons(
        docx_with("{{ title }}", "{% if final %}Föreningen betalar Regionen.{% else %}" + CLAUSE + "{% endif %}")
    )
    assert "Mallen använder variabeln final" in text and "Ta bort villkoren med final" in text


def complex_field(*instruction_pieces) -> str:
    """A field whose instruction is split over runs, as Word writes it after an edit."""
    runs = "".join(f'<w:r><w:instrText xml:space="preserve">{p}</w:instrText></w:r>' for p in instruction_pieces)
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        + runs
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>bild</w:t></w:r>'
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def draft_with_template(app, client, template: bytes, iop_data) -> int:
    """A draft filled by `template`, stored as a template uploaded before today's checks."""
    with app.extensions["db"].session() as session:
        row = CustomTemplate(
            name="Gammal mall", kind="iop", sha256=app.extensions["files"].put(template), variables=["title"]
        )
        session.add(row)
        session.flush()
        template_id = row.id
    form_url = f"/avtal/ny?typ=iop&mall={template_id}"
    token = csrf_token(client.get(form_url).get_data(as_text=True))
    saved = client.post(form_url, data={**forms.to_form(iop_data), "csrf_token": token, "action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    return int(saved.headers["Location"].rsplit("/", 1)[1])


def zip_bomb(member_mb: int) -> bytes:
    """A valid template plus one member of `member_mb` MB of zeros, compressed to about 1/1000."""
    out = io.BytesIO(docx_with("{{ title }}"))
    with (
        zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("word/media/bomb.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(member_mb):
            member.write(bytes(1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    "field",
    [
        '<w:fldSimple w:instr=" includepicture &quot;http://192.0.2.1/a.png&quot; ">'
        "<w:r><w:t>x</w:t></w:r></w:fldSimple>",
        complex_field(" INCLUDE", "PICTURE ", '"http://192.0.2.1/a.png"'),
        complex_field(" Include ", '"http://192.0.2.1/a.docx"'),
        complex_field(" DDEAUTO excel ", '"C:\\\\x.xls"'),
        complex_field("{{ 'INCLUDE' ~ 'PICTURE' }} ", '"http://192.0.2.1/a.png"'),
    ],
)
def test_fetching_field_codes_are_refused_however_written(app, client, official, field):
    response = upload_template(client, docx_with_xml(field))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "fältkod" in page and "Tekniskt fel" not in page
    assert count(app, CustomTemplate) == 0


@pytest.mark.parametrize("name", ["cycler", "joiner", "lipsum", "namespace", "self", "dict"])
def test_jinja_globals_the_templates_do_not_need_are_unknown(client, official, name):
    response = upload_template(client, docx_with(f"{{{{ title }}}} {{{{ {name} }}}}"))
    assert response.status_code == 400
    assert f"känner till: {name}" in response.get_data(as_text=True)


def test_a_field_code_made_by_the_fill_never_reaches_libreoffice(app, client, official, iop_data):
    template = docx_with_xml(complex_field("{{ 'INCLUDE' ~ 'PICTURE' }} ", '"http://192.0.2.1/a.png"'))
    agreement_id = draft_with_template(app, client, template, iop_data)
    conversions = [proc.conversions for proc in app.extensions["office"].processes()]
    response = client.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert response.status_code == 503
    assert "fältkoder som hämtar andra filer (INCLUDEPICTURE)" in response.get_data(as_text=True)
    assert [proc.conversions for proc in app.extensions["office"].processes()] == conversions


@pytest.mark.slow  # fills in worker processes that start LibreOffice
@pytest.mark.parametrize(
    "body, message",
    [
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% if a == b == -1 %}x{% endif %}"
            "{% endfor %}{% endfor %}",
            "tog för lång tid",
        ),
        ("{{ title * 2000000 }}", "blev för stort"),
        ("{% for i in range(1000000) %}{{ i }}{% endfor %}", "blev för stort"),
    ],
)
def test_templates_that_burn_cpu_or_memory_get_a_swedish_error(app, client, official, iop_data, body, message):
    agreement_id = draft_with_template(app, client, docx_with(body), iop_data)
    response = client.get(f"/avtal/{agreement_id}/forhandsgranska")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert message in page and "Tekniskt fel" not in page


def test_a_zip_bomb_is_refused_from_its_directory(app, client, official):
    bomb = zip_bomb(300)
    assert len(bomb) < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = upload_template(client, bomb)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert response.status_code == 400
    assert "blir för stor uppackad" in response.get_data(as_text=True)
    assert grown_mb < 100  # reading the member would have taken 300 MB


def test_a_zip_of_many_members_is_refused(client, official):
    out = io.BytesIO(docx_with("{{ title }}"))
    with zipfile.ZipFile(out, "a") as archive:
        for i in range(600):
            archive.writestr(f"customXml/part{i}.xml", "<a/>")
    response = upload_template(client, out.getvalue())
    assert response.status_code == 400 and "för många delar" in response.get_data(as_text=True)


def test_repeating_a_text_past_the_cap_is_refused_before_it_is_built():
    """`{{ title * 2000000 }}` would build 100 MB before the filled document's size is checked."""
    template = jinja_environment().from_string("{{ title * n }}")
    with pytest.raises(OverflowError):
        template.render(title="x" * 100, n=MAX_FILLED_BYTES // 50)
    assert template.render(title="ab", n=3) == "ababab"


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


def with_document_xml(docx: bytes, edit) -> bytes:
    """The .docx with its word/document.xml bytes edited as a hand-made file could have them."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, edit(data) if info.filename == "word/document.xml" else data)
    return out.getvalue()


@pytest.mark.parametrize(
    "spelt",
    [b'xmlns:q="&#104;' + R_NS[1:].encode() + b'"', b"xmlns:q = '" + R_NS.encode() + b"'"],
    ids=["namespace-spelt-with-a-character-reference", "single-quotes-and-spaces"],
)
def test_a_link_is_found_however_its_namespace_is_spelt_in_the_bytes(spelt):
    """The check reads a part's bytes before it parses them; what the parser would read as the
    relationships namespace must not pass as anything else."""
    docx = docx_linking(f'<a:blip xmlns:a="{A_NS}" xmlns:r="{R_NS}" r:embed="{{rid}}"/>')
    edited = with_document_xml(docx, lambda xml: xml.replace(b" r:embed=", b" " + spelt + b" q:embed="))
    assert b" q:embed=" in zipfile.ZipFile(io.BytesIO(edited)).read("word/document.xml")
    assert "extern adress (http://10.0.0.5/intern)" in reasons(edited)


def test_a_hyperlink_may_name_an_external_address():
    link = (
        '<w:hyperlink xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        f'xmlns:r="{R_NS}" r:id="{{rid}}"><w:r><w:t>webbplats</w:t></w:r></w:hyperlink>'
    )
    assert check_template(docx_linking(link, target="https://example.se/"), "iop").variables == ["parties", "title"]


@pytest.mark.slow
def test_a_link_that_appears_only_when_filled_is_refused(iop_data):
    """The relationship id is written by Jinja: the upload check cannot see it, the filled one does."""
    jinja_id = "{{{{ '{rid}' }}}}"  # {{ 'rId9' }} once formatted
    template = docx_linking(f'<a:blip xmlns:a="{A_NS}" xmlns:r="{R_NS}" r:embed="{jinja_id}"/>')
    assert check_template(template, "iop").variables == ["parties", "title"]
    with pytest.raises(TemplateFillError, match="http://10.0.0.5/intern"):
        fill_agreement(validate_agreement(iop_data), template=template)
