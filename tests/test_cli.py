import io
import json

import pytest
from pypdf import PdfReader

from service.documents import render_agreement_pdf
from service.schema import validate_agreement

from .helpers import flat, pdf_text, stored_files


@pytest.mark.slow
def test_render_writes_the_pdf(app, runner, tmp_path):
    out = tmp_path / "iop.pdf"
    result = runner.invoke(args=["render", "scripts/examples/iop-skane-2021.json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 750 000 kr" in flat(pdf_text(out.read_bytes()))
    assert len(stored_files(app)) == 2  # the filled .docx and the PDF


@pytest.mark.slow
def test_render_is_the_pdf_the_service_freezes(app, runner, tmp_path, iop_data):
    out = tmp_path / "iop.pdf"
    assert runner.invoke(args=["render", "scripts/examples/iop-skane-2021.json", "-o", str(out)]).exit_code == 0
    frozen, _ = render_agreement_pdf(
        validate_agreement(iop_data), app.extensions["office"], app.extensions["files"], True
    )
    cli, service = PdfReader(io.BytesIO(out.read_bytes())), PdfReader(io.BytesIO(frozen))
    for reader in (cli, service):
        assert (reader.xmp_metadata.pdfaid_part, reader.xmp_metadata.pdfaid_conformance) == ("2", "B")
        assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in reader.trailer["/Root"]
        assert reader.metadata.title == reader.xmp_metadata.dc_title["x-default"] == iop_data["title"]
    assert [p.extract_text() for p in cli.pages] == [p.extract_text() for p in service.pages]


def test_invalid_input_names_the_field_and_writes_nothing(app, runner, tmp_path, iop_data):
    iop_data["parties"][0]["org_number"] = "232100-0256"
    del iop_data["period"]["end"]
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(iop_data), encoding="utf-8")
    out = tmp_path / "bad.pdf"
    result = runner.invoke(args=["render", str(source), "--output", str(out)])
    assert result.exit_code == 1
    assert "Part 1: Organisationsnummer har fel kontrollsiffra" in result.output
    assert "Period: Slutdatum måste fyllas i" in result.output
    assert not out.exists()
    assert stored_files(app) == []


def test_not_json(app, runner, tmp_path):
    source = tmp_path / "bad.json"
    source.write_text("{ inte json", encoding="utf-8")
    result = runner.invoke(args=["render", str(source), "--output", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and "inte giltig JSON" in result.output


def test_users_are_refused_an_address_list(runner):
    result = runner.invoke(args=["users", "create", "--email", "first,second@example.se", "--role", "official"])
    assert result.exit_code == 1 and "giltig e-postadress" in result.output
