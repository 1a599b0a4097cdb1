"""Build the Word templates in templates/docx/ with python-docx.

The service fills these templates with docxtpl (Jinja, autoescape on) and
converts them to PDF with LibreOffice. Every Jinja tag is written as the text
of a single run, and paragraph or table-row loops use docxtpl's {%p ... %} and
{%tr ... %} tags on paragraphs or rows of their own.

Run:  .venv/bin/python scripts/build_templates.py
"""

from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

OUT_DIR = Path(__file__).resolve().parent.parent / "templates" / "docx"

FONT = "Carlito"  # metric-compatible with Calibri; installed with fonts-crosextra-carlito
HEADING_COLOR = "1F3A5F"
MUTED_COLOR = "595959"
RULE_COLOR = "808080"
TEXT_WIDTH_CM = 16.0  # A4 width 21 cm minus 2 x 2.5 cm margins
BULLET_INDENT_TWIPS = 357  # about 0.63 cm

# Styles added on top of Word's built-in ones (names shown in Word's style list).
SMALL = "Liten text"
LABEL = "Etikett"
KICKER = "Dokumenttyp"
SIGN_TEXT = "Underskrift"


# --------------------------------------------------------------------------
# Low-level XML helpers
# --------------------------------------------------------------------------

# Word rejects a file whose property elements are out of schema order
# (LibreOffice does not care), so elements python-docx has no API for are
# inserted at their place in these sequences.
PPR_ORDER = [
    "pStyle",
    "keepNext",
    "keepLines",
    "pageBreakBefore",
    "framePr",
    "widowControl",
    "numPr",
    "suppressLineNumbers",
    "pBdr",
    "shd",
    "tabs",
    "suppressAutoHyphens",
    "kinsoku",
    "wordWrap",
    "overflowPunct",
    "topLinePunct",
    "autoSpaceDE",
    "autoSpaceDN",
    "bidi",
    "adjustRightInd",
    "snapToGrid",
    "spacing",
    "ind",
    "contextualSpacing",
    "mirrorIndents",
    "suppressOverlap",
    "jc",
    "textDirection",
    "textAlignment",
    "textboxTightWrap",
    "outlineLvl",
    "divId",
    "cnfStyle",
    "rPr",
    "sectPr",
    "pPrChange",
]
TBLPR_ORDER = [
    "tblStyle",
    "tblpPr",
    "tblOverlap",
    "bidiVisual",
    "tblStyleRowBandSize",
    "tblStyleColBandSize",
    "tblW",
    "jc",
    "tblCellSpacing",
    "tblInd",
    "tblBorders",
    "shd",
    "tblLayout",
    "tblCellMar",
    "tblLook",
    "tblCaption",
    "tblDescription",
]
TRPR_ORDER = [
    "cnfStyle",
    "divId",
    "gridBefore",
    "gridAfter",
    "wBefore",
    "wAfter",
    "cantSplit",
    "trHeight",
    "tblHeader",
    "tblCellSpacing",
    "jc",
    "hidden",
]
TCPR_ORDER = [
    "cnfStyle",
    "tcW",
    "gridSpan",
    "hMerge",
    "vMerge",
    "tcBorders",
    "shd",
    "noWrap",
    "tcMar",
    "textDirection",
    "tcFitText",
    "vAlign",
    "hideMark",
]


def insert_ordered(parent, child, order):
    """Replace parent's element of child's kind, keeping the schema order of children."""
    for old in parent.findall(child.tag):
        parent.remove(old)
    later = {qn(f"w:{name}") for name in order[order.index(child.tag.split("}")[1]) + 1 :]}
    for index, existing in enumerate(parent):
        if existing.tag in later:
            parent.insert(index, child)
            return child
    parent.append(child)
    return child


def set_rfonts(rpr, name):
    """Set one font for every script and drop theme fonts (they override names in Word)."""
    rfonts = rpr.get_or_add_rFonts()
    for key in list(rfonts.attrib):
        del rfonts.attrib[key]
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def set_color(font, hex_color):
    """Plain RGB colour; replaces a theme colour (and its shade) from the default template."""
    font.color.rgb = RGBColor.from_string(hex_color)


def set_bottom_border(ppr, color=RULE_COLOR, size=6, space=4):
    """Give a paragraph (its pPr) a bottom rule."""
    pbdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", str(size)), ("space", str(space)), ("color", color)):
        bottom.set(qn(f"w:{key}"), value)
    pbdr.append(bottom)
    insert_ordered(ppr, pbdr, PPR_ORDER)


def set_table_borders(table, value="single", color=RULE_COLOR, size=4, inside=True):
    """Set the outer (and optionally inner) borders of a table."""
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        val = value if inside or not edge.startswith("inside") else "nil"
        el.set(qn("w:val"), val)
        if val != "nil":
            el.set(qn("w:sz"), str(size))
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), color)
        borders.append(el)
    insert_ordered(table._tbl.tblPr, borders, TBLPR_ORDER)


def set_cell_margins(table, left_cm, right_cm, top_cm=0.0, bottom_cm=0.0):
    """Default cell padding for the whole table."""
    mar = OxmlElement("w:tblCellMar")
    for edge, cm in (("top", top_cm), ("left", left_cm), ("bottom", bottom_cm), ("right", right_cm)):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), str(int(Cm(cm).twips)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    insert_ordered(table._tbl.tblPr, mar, TBLPR_ORDER)


def set_fixed_widths(table, widths_cm):
    """Fixed layout with explicit column widths (both grid and cells, for Word and LibreOffice)."""
    table.autofit = False  # writes <w:tblLayout w:type="fixed"/>
    for col, width in zip(table.columns, widths_cm):
        col.width = Cm(width)
        for cell in col.cells:
            cell.width = Cm(width)


def set_row_flags(row, header=False, cant_split=True):
    """Repeat a row as table header on each page and/or keep it on one page."""
    trpr = row._tr.get_or_add_trPr()
    if cant_split:
        insert_ordered(trpr, OxmlElement("w:cantSplit"), TRPR_ORDER)
    if header:
        insert_ordered(trpr, OxmlElement("w:tblHeader"), TRPR_ORDER)


def shade_cell(cell, fill):
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    insert_ordered(tcpr, shd, TCPR_ORDER)


def add_field(paragraph, instruction):
    """Insert a complex field (PAGE, NUMPAGES) as fldChar runs."""

    def fld_char(kind):
        run = paragraph.add_run()
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)

    fld_char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    fld_char("separate")
    paragraph.add_run("1")
    fld_char("end")


# --------------------------------------------------------------------------
# Document set-up: page, styles, bullets, header and footer
# --------------------------------------------------------------------------


def new_document(footer="Sida "):
    """An empty A4 document with our styles, header and footer ("Sida X av Y" after `footer`)."""
    doc = Document()
    body = doc.element.body
    for p in body.findall(qn("w:p")):
        body.remove(p)
    setup_page(doc)
    setup_styles(doc)
    setup_bullets(doc)
    add_header(doc)
    add_footer(doc, footer)
    props = doc.core_properties
    props.author = ""
    props.last_modified_by = ""
    props.comments = ""
    props.title = ""
    props.language = "sv-SE"
    return doc


def setup_page(doc):
    section = doc.sections[0]
    section.page_width = Cm(21.0)
    section.page_height = Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = Cm(2.5)
    section.bottom_margin = Cm(2.2)
    section.header_distance = Cm(1.2)
    section.footer_distance = Cm(1.0)


def setup_styles(doc):
    """Fonts, sizes and spacing for the built-in and our own styles."""
    styles = doc.styles

    # Document defaults: font, size, Swedish language.
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_rfonts(rpr, FONT)
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "sv-SE")
    lang.set(qn("w:eastAsia"), "sv-SE")

    normal = styles["Normal"]
    normal.font.size = Pt(11)
    normal_pf = normal.paragraph_format
    normal_pf.space_before = Pt(0)
    normal_pf.space_after = Pt(6)
    normal_pf.line_spacing = 1.15
    normal_pf.widow_control = True

    heading_style(styles["Title"], size=22, before=0, after=10)
    set_bottom_border(styles["Title"].element.get_or_add_pPr(), color=HEADING_COLOR, size=8, space=6)
    heading_style(styles["Heading 1"], size=14, before=18, after=6)
    heading_style(styles["Heading 2"], size=12, before=12, after=3)

    # Keep a little space between list items (the default style suppresses it).
    bullet = styles["List Bullet"]
    for old in bullet.element.pPr.findall(qn("w:contextualSpacing")):
        bullet.element.pPr.remove(old)
    bullet.paragraph_format.space_after = Pt(3)

    for name in ("Header", "Footer"):
        style = styles[name]
        style.font.size = Pt(8.5)
        set_color(style.font, MUTED_COLOR)

    small = add_paragraph_style(styles, SMALL)
    small.font.size = Pt(9)
    set_color(small.font, MUTED_COLOR)
    small.paragraph_format.space_after = Pt(6)

    label = add_paragraph_style(styles, LABEL)
    label.font.bold = True
    label.paragraph_format.space_before = Pt(6)
    label.paragraph_format.space_after = Pt(2)
    label.paragraph_format.keep_with_next = True

    kicker = add_paragraph_style(styles, KICKER)
    kicker.font.size = Pt(10)
    kicker.font.bold = True
    kicker.font.all_caps = True
    set_color(kicker.font, MUTED_COLOR)
    kicker.paragraph_format.space_after = Pt(4)
    kicker.paragraph_format.keep_with_next = True

    sign = add_paragraph_style(styles, SIGN_TEXT)
    sign.paragraph_format.space_after = Pt(0)
    sign.paragraph_format.keep_with_next = True
    sign.paragraph_format.keep_together = True


def heading_style(style, size, before, after):
    """Bold sans heading in the heading colour; keeps with the next paragraph."""
    rpr = style.element.get_or_add_rPr()
    set_rfonts(rpr, FONT)
    set_color(style.font, HEADING_COLOR)
    style.font.size = Pt(size)
    style.font.bold = True
    style.font.italic = False
    pf = style.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    pf.line_spacing = 1.0
    pf.keep_with_next = True
    pf.keep_together = True


def add_paragraph_style(styles, name):
    style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = styles["Normal"]
    style.quick_style = True
    return style


def setup_bullets(doc):
    """Make 'List Bullet' a plain round bullet in our font with a hanging indent.

    The default template draws the bullet with a Symbol-font private-use
    character; a normal bullet character renders the same in Word and LibreOffice.
    """
    style = doc.styles["List Bullet"]
    num_id = style.element.pPr.numPr.numId.val
    numbering = doc.part.numbering_part.element
    num = numbering.num_having_numId(num_id)
    abstract_id = num.abstractNumId.val
    abstract = next(
        a for a in numbering.findall(qn("w:abstractNum")) if a.get(qn("w:abstractNumId")) == str(abstract_id)
    )
    for old in abstract.findall(qn("w:lvl")):
        abstract.remove(old)
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), "0")
    for tag, val in (("w:start", "1"), ("w:numFmt", "bullet"), ("w:lvlText", "\u2022"), ("w:lvlJc", "left")):
        el = OxmlElement(tag)
        el.set(qn("w:val"), val)
        lvl.append(el)
    ppr = OxmlElement("w:pPr")
    ind = OxmlElement("w:ind")
    ind.set(qn("w:left"), str(BULLET_INDENT_TWIPS))
    ind.set(qn("w:hanging"), str(BULLET_INDENT_TWIPS))
    ppr.append(ind)
    lvl.append(ppr)
    rpr = OxmlElement("w:rPr")
    set_rfonts(rpr, FONT)
    lvl.append(rpr)
    abstract.append(lvl)


def add_header(doc):
    """Title on the left, 'Dnr ...' on the right, a thin rule below."""
    header = doc.sections[0].header
    table = header.add_table(rows=1, cols=2, width=Cm(TEXT_WIDTH_CM))
    set_table_borders(table, value="nil")
    set_cell_margins(table, 0, 0)
    set_fixed_widths(table, [12.0, TEXT_WIDTH_CM - 12.0])
    left, right = table.rows[0].cells
    set_text(left.paragraphs[0], "{{ running_title }}", style="Header")
    set_text(
        right.paragraphs[0], "{% if registration_number %}Dnr {{ registration_number }}{% endif %}", style="Header"
    )
    right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    left.vertical_alignment = right.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM

    # Word needs a paragraph after a table; use it as the rule under the header.
    rule = header.paragraphs[0]
    header._element.remove(rule._p)
    header._element.append(rule._p)
    rule.style = doc.styles["Header"]
    rule.paragraph_format.space_after = Pt(0)
    rule.paragraph_format.line_spacing = Pt(3)
    set_bottom_border(rule._p.get_or_add_pPr(), size=4, space=1)


# The signing sheet and the verification appendix follow the frozen pages and count their own.
APPENDIX_FOOTER = "Bilaga till avtalet · sida "


def add_footer(doc, text):
    """'Sida X av Y' centred, with real PAGE and NUMPAGES fields."""
    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.style = doc.styles["Footer"]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(text)
    add_field(paragraph, "PAGE")
    paragraph.add_run(" av ")
    add_field(paragraph, "NUMPAGES")


# --------------------------------------------------------------------------
# Content helpers: paragraphs, Jinja tags, loops
# --------------------------------------------------------------------------


def set_text(paragraph, text, style=None, bold=False):
    """Write text as ONE run so a Jinja tag is never split across runs."""
    if style:
        paragraph.style = style
    run = paragraph.add_run(text)
    if bold:
        run.bold = True
    return paragraph


def para(container, text="", style=None, bold=False):
    """Add a paragraph (to the document or a table cell) holding one run."""
    return set_text(container.add_paragraph(), text, style=style, bold=bold)


def tag(container, text):
    """A paragraph that holds only a docxtpl {%p ... %} tag (removed on render)."""
    return para(container, text)


def paragraphs(container, expr, style=None, var="para", keep_last_if=None):
    """Render a list of paragraph strings, one Word paragraph each. With `keep_last_if` (a
    Jinja condition) the last one stays on the page of what follows while it holds."""
    tag(container, f"{{%p for {var} in {expr} %}}")
    if keep_last_if:
        tag(container, f"{{%p if loop.last and {keep_last_if} %}}")
        para(container, f"{{{{ {var} }}}}", style=style).paragraph_format.keep_with_next = True
        tag(container, "{%p else %}")
    para(container, f"{{{{ {var} }}}}", style=style)
    if keep_last_if:
        tag(container, "{%p endif %}")
    tag(container, "{%p endfor %}")


def bullets(container, expr, var="item"):
    """Render a list of strings as bulleted paragraphs; the last two stay on one page,
    so a list never ends with a single item carried over to the next page."""
    tag(container, f"{{%p for {var} in {expr} %}}")
    tag(container, "{%p if loop.revindex == 2 %}")
    para(container, f"{{{{ {var} }}}}", style="List Bullet").paragraph_format.keep_with_next = True
    tag(container, "{%p else %}")
    para(container, f"{{{{ {var} }}}}", style="List Bullet")
    tag(container, "{%p endif %}")
    tag(container, "{%p endfor %}")


def heading(doc, text, level=1, page_break=False):
    paragraph = doc.add_heading(level=level)
    paragraph.add_run(text)
    if page_break:
        paragraph.paragraph_format.page_break_before = True
    return paragraph


def title_block(doc, kicker=None, meta_lines=()):
    """Title block on page 1: optional document type, the title, small meta lines."""
    if kicker:
        para(doc, kicker, style=KICKER)
    para(doc, "{{ title }}", style="Title")
    for i, line in enumerate(meta_lines):
        meta = para(doc, line, style=SMALL)
        if i < len(meta_lines) - 1:
            meta.paragraph_format.space_after = Pt(1)


# --------------------------------------------------------------------------
# Signature blocks and signing table (shared by agreements and signing sheets)
# --------------------------------------------------------------------------

ELECTRONIC = "Avtalet bekräftas elektroniskt av parterna; varje part får den slutliga versionen."
# The text sent for signing holds no sheet to fill in: the confirmations follow it in the final PDF.
SIGNATURES_FOLLOW = (
    "Varje parts ort, datum, namn och titel står på signeringssidan, som följer efter avtalstexten "
    "i den slutliga versionen när parterna har bekräftat."
)
TIME_NOTE = "Tider anges i svensk tid. Verifieringsbilagan visar hur varje part bekräftade avtalet."


def signature_blocks(doc):
    """Each party's signature as signed: place and date, name, title, organisation, and when
    it was confirmed electronically."""
    tag(doc, "{%p for p in parties %}")
    first = para(doc, "{{ p.signature.place_and_date }}", style=SIGN_TEXT)
    first.paragraph_format.space_before = Pt(18)
    para(doc, "{{ p.signature.name }}", style=SIGN_TEXT, bold=True)
    tag(doc, "{%p if p.signature.title %}")
    para(doc, "{{ p.signature.title }}", style=SIGN_TEXT)
    tag(doc, "{%p endif %}")
    para(doc, "{{ p.name }}", style=SIGN_TEXT)
    confirmed = para(doc, "Bekräftat elektroniskt kl. {{ p.signature.time }}", style=SMALL)
    confirmed.paragraph_format.space_before = Pt(2)
    confirmed.paragraph_format.keep_with_next = False
    tag(doc, "{%p endfor %}")
    time_note(doc)


SIGNING_COLUMNS = [("Organisation", 6.6), ("Signatur", 5.2), ("Namnförtydligande", TEXT_WIDTH_CM - 11.8)]


def signing_table(doc):
    """Organisation | Signatur | Namnförtydligande, one row per party as confirmed."""
    table = doc.add_table(rows=4, cols=3)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    set_table_borders(table, color="404040", size=6)
    set_cell_margins(table, 0.2, 0.2, 0.08, 0.08)
    set_fixed_widths(table, [width for _, width in SIGNING_COLUMNS])
    rows = table.rows

    # Header row, repeated on every page.
    set_row_flags(rows[0], header=True)
    for cell, (label, _) in zip(rows[0].cells, SIGNING_COLUMNS):
        set_text(cell.paragraphs[0], label, bold=True)
        shade_cell(cell, "E7EBF0")
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER

    # One row per party.
    set_text(rows[1].cells[0].paragraphs[0], "{%tr for p in parties %}")
    org, sig, name = rows[2].cells
    set_text(org.paragraphs[0], "{{ p.name }}")
    para(org, "{{ p.org_number }}", style=SMALL)
    # Place and date as signed, then the time of the electronic confirmation; each one run.
    set_text(sig.paragraphs[0], "{{ p.signature.place_and_date }}")
    confirmed = para(sig, "Bekräftat elektroniskt kl. {{ p.signature.time }}", style=SMALL)
    confirmed.paragraph_format.space_before = Pt(1)
    set_text(name.paragraphs[0], "{{ p.signature.name }}")
    para(name, "{{ p.signature.title }}", style=SMALL)
    set_text(rows[3].cells[0].paragraphs[0], "{%tr endfor %}")

    rows[2].height = Cm(1.25)
    rows[2].height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    set_row_flags(rows[2])
    for cell in rows[2].cells:
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    for row in rows:
        for p in row.cells[0].paragraphs + row.cells[1].paragraphs + row.cells[2].paragraphs:
            p.paragraph_format.space_after = Pt(0)
    return table


# --------------------------------------------------------------------------
# The four templates
# --------------------------------------------------------------------------


def build_iop_agreement():
    doc = new_document()
    title_block(
        doc,
        kicker="Idéburet offentligt partnerskap",
        meta_lines=[
            "Parter: {{ parties|map(attribute='name')|list|join_sv }}",
            "Period: {{ period.start|datum }} – {{ period.end|datum }}",
        ],
    )

    heading(doc, "1. Inledning")
    paragraphs(doc, "introduction")

    heading(doc, "2. Parterna")
    para(
        doc,
        "Detta partnerskap har ingåtts mellan {{ parties|map(attribute='name')|list|join_sv }}. "
        "Parterna är öppna för att även andra organisationer ansluter sig till detta partnerskap, "
        "genom komplettering av rubrikerna ”Parterna”, ”Organisation och samverkan” samt ”Resurser”.",
    )
    tag(doc, "{%p for p in parties %}")
    heading(doc, "{{ p.name }}", level=2)
    para(
        doc,
        "Organisationsnummer {{ p.org_number }} · {{ 'Offentlig part' if p.kind == 'offentlig' else 'Idéburen part' }}",
        style=SMALL,
    ).paragraph_format.keep_with_next = True
    paragraphs(doc, "p.description")
    tag(doc, "{%p endfor %}")

    heading(doc, "3. Perioden för partnerskapet")
    para(
        doc,
        "Partnerskapet avser perioden från {{ period.start|datum }} till {{ period.end|datum }}. "
        "Partnerskapet upphör utan krav på föregående uppsägning."
        "{% if period.extension_years %} Partnerskapet kan förlängas med upp till "
        "{{ period.extension_years }}\u00a0år.{% endif %}",
    )

    heading(doc, "4. Värdegrund för partnerskapet")
    para(
        doc,
        "Värdegrund för partnerskapet är de {{ principles|length|antal }} principer som parterna "
        "enats om: {{ principles|join_sv }}.",
    )
    paragraphs(doc, "values_text")

    heading(doc, "5. Målbild")
    paragraphs(doc, "goals_intro")
    tag(doc, "{%p for goal in goals %}")
    heading(doc, "{{ goal.heading }}", level=2)
    paragraphs(doc, "goal.text")
    tag(doc, "{%p endfor %}")

    heading(doc, "6. Verksamhet")
    paragraphs(doc, "activities_intro")
    bullets(doc, "activities")
    paragraphs(doc, "activities_outro")

    heading(doc, "7. Organisation och samverkan")
    paragraphs(doc, "cooperation_intro")
    tag(doc, "{%p for body in bodies %}")
    heading(doc, "{{ body.heading }}", level=2)
    bullets(doc, "body['items']")  # body.items would be the dict method
    tag(doc, "{%p endfor %}")
    heading(doc, "Parternas ansvarsområden", level=2)
    tag(doc, "{%p for p in parties %}")
    paragraphs(doc, "p.responsibilities")
    tag(doc, "{%p endfor %}")
    paragraphs(doc, "cooperation_outro")

    heading(doc, "8. Uppföljning")
    paragraphs(doc, "follow_up")

    heading(doc, "9. Resurser")
    # The closing paragraph is short: it stays with the last party's, never alone on a page.
    tag(doc, "{%p for p in parties %}")
    tag(doc, "{%p set before_outro = loop.last and resources_outro %}")
    paragraphs(doc, "p.resources.text", keep_last_if="before_outro and not p.resources.amount_sentence")
    tag(doc, "{%p if p.resources.amount_sentence %}")
    para(doc, "{{ p.resources.amount_sentence }}")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")
    paragraphs(doc, "resources_outro")

    heading(doc, "10. Uppsägning")
    para(
        doc,
        "Om någon av parterna inte uppfyller villkoren för partnerskapet eller brister i sina åtaganden, "
        "eller väsentligt ändrade omständigheter inträffar kan övriga parter när som helst under perioden "
        "påkalla nya förhandlingar alternativt säga upp partnerskapet skriftligt. "
        "Vid uppsägning gäller {{ notice_months }}\u00a0månaders uppsägningstid.",
    )

    heading(doc, "11. Ombud")
    tag(doc, "{%p for p in parties %}")
    para(doc, "För {{ p.name }}", style=LABEL)
    para(doc, "{{ p.representative.name }}, {{ p.representative.title }}")
    tag(doc, "{%p endfor %}")
    heading(doc, "Bekräftelse", level=2)
    para(doc, ELECTRONIC)
    para(doc, SIGNATURES_FOLLOW)
    return doc


def build_overenskommelse():
    doc = new_document()
    title_block(doc)

    tag(doc, "{%p for s in sections %}")
    tag(doc, "{%p if s.heading %}")
    heading(doc, "{{ s.heading }}")
    tag(doc, "{%p endif %}")
    paragraphs(doc, "s.text")
    tag(doc, "{%p endfor %}")

    heading(doc, "Principerna, åtgärderna och ansvarspunkterna")
    paragraphs(doc, "principles_intro")
    tag(doc, "{%p for pr in principles %}")
    heading(doc, "{{ loop.index }}. {{ pr.heading }}", level=2)
    paragraphs(doc, "pr.text")
    tag(doc, "{%p if pr.actions %}")
    para(doc, "Åtgärder:", style=LABEL)
    bullets(doc, "pr.actions")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if pr.responsibilities %}")
    para(doc, "Ansvar:", style=LABEL)
    bullets(doc, "pr.responsibilities")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")

    heading(doc, "{{ goals_heading }}")
    bullets(doc, "goals")

    heading(doc, "Undertecknande")
    paragraphs(doc, "signing_text")
    para(doc, "Överenskommelsen undertecknas av:", style=LABEL)
    tag(doc, "{%p for p in parties %}")
    para(doc, "{{ p.name }}, organisationsnummer {{ p.org_number }}", style="List Bullet")
    tag(doc, "{%p endfor %}")
    para(doc, ELECTRONIC)
    para(doc, SIGNATURES_FOLLOW)
    return doc


def time_note(doc):
    para(doc, TIME_NOTE, style=SMALL).paragraph_format.space_before = Pt(6)


def build_signing_sheet_iop():
    doc = new_document(footer=APPENDIX_FOOTER)
    heading(doc, "Underskrifter")
    para(doc, "Avtal: {{ title }}")
    para(doc, ELECTRONIC)
    signature_blocks(doc)
    return doc


def build_signing_sheet_table():
    doc = new_document(footer=APPENDIX_FOOTER)
    heading(doc, "Signering")
    para(doc, "Avtal: {{ title }}")
    para(doc, ELECTRONIC)
    signing_table(doc)
    time_note(doc)
    return doc


TEMPLATES = {
    "iop_agreement.docx": build_iop_agreement,
    "overenskommelse.docx": build_overenskommelse,
    "signing_sheet_iop.docx": build_signing_sheet_iop,
    "signing_sheet_table.docx": build_signing_sheet_table,
}


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for filename, build in TEMPLATES.items():
        build().save(OUT_DIR / filename)
        print(f"wrote {OUT_DIR / filename}")


if __name__ == "__main__":
    main()
