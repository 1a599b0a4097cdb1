"""The one text rule, at every entry point a person types into, with the same hostile strings."""

import pytest
from sqlalchemy import select

from service import forms, text
from service.models import Agreement, Confirmation, CustomTemplate, SigningLink
from service.schema import SchemaError, validate_agreement

from .helpers import (
    HOSTILE_FORM_TEXT,
    HOSTILE_TEXT,
    bearer,
    confirm,
    count,
    create_and_send,
    csrf_token,
    decline,
    docx_with,
    field_error,
    path_of,
)


@pytest.mark.parametrize("value", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_the_rule_refuses_each_hostile_string(value):
    with pytest.raises(text.TextRefused):
        text.clean(value)


def test_ordinary_text_is_kept_with_its_line_breaks_made_plain():
    assert text.clean("  Åsa Öberg – ordförande\r\nrad två\t😀 ") == "Åsa Öberg – ordförande\nrad två\t😀"
    assert text.check("x" * text.NAME_MAX, text.NAME_MAX) == "x" * text.NAME_MAX
    with pytest.raises(text.TextRefused) as info:
        text.check("x" * (text.NAME_MAX + 1), text.NAME_MAX)
    assert info.value.message == f"får vara högst {text.NAME_MAX} tecken"


@pytest.mark.parametrize("value", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_schema_refuses_each_hostile_string(iop_data, value):
    iop_data["parties"][0]["representative"]["title"] = value
    with pytest.raises(SchemaError) as info:
        validate_agreement(iop_data)
    assert list(info.value.errors) == ["parties.0.representative.title"]


def test_api_refuses_each_hostile_string_and_stores_nothing(app, client, api_token, iop_data):
    for name, value in HOSTILE_TEXT.items():
        response = client.post("/api/agreements", json={**iop_data, "title": value}, headers=bearer(api_token))
        assert response.status_code == 422, name
        assert response.json["errors"][0]["pointer"] == "#/title", name
        assert response.json["errors"][0]["message"].startswith("Titel innehåller"), name
    assert count(app, Agreement) == 0


def test_web_form_refuses_each_hostile_string_and_stores_nothing(app, client, official, iop_data):
    url = "/avtal/ny?typ=iop"
    for name, value in HOSTILE_FORM_TEXT.items():
        token = csrf_token(client.get(url).get_data(as_text=True))
        form = {**forms.to_form({**iop_data, "title": value}), "csrf_token": token, "action": "save"}
        response = client.post(url, data=form)
        assert response.status_code == 400, name
        assert field_error(response.get_data(as_text=True), "title").startswith("Titel innehåller"), name
    assert count(app, Agreement) == 0


def test_template_upload_refuses_each_hostile_name_and_stores_nothing(app, client, official):
    for name, value in HOSTILE_FORM_TEXT.items():
        token = csrf_token(client.get("/avtal/mallar").get_data(as_text=True))
        upload = (docx_with("{{ title }}"), "mall.docx")
        form = {"csrf_token": token, "kind": "iop", "name": value, "file": upload}
        response = client.post("/avtal/mallar", data=form, content_type="multipart/form-data")
        assert response.status_code == 400, name
        assert field_error(response.get_data(as_text=True), "name").startswith("Mallens namn innehåller"), name
    assert count(app, CustomTemplate) == 0


BIDI = {name: value for name, value in HOSTILE_TEXT.items() if any(0x202A <= ord(c) <= 0x2069 for c in value)}


@pytest.mark.slow
def test_bidi_controls_typed_when_confirming_are_refused(app, client, api_token, iop_data):
    """They once got through here, and could reorder what the final PDF's appendix shows."""
    _, links = create_and_send(client, api_token, iop_data)
    for name, value in BIDI.items():
        for field in ("name", "title", "place"):
            typed = {"name": "Anna Andersson", "title": "Ordförande", "place": "Malmö", field: value}
            assert confirm(client, links[0]["url"], **typed).status_code == 400, (name, field)
        assert decline(client, links[0]["url"], value).status_code == 400, name
    assert count(app, Confirmation) == 0


@pytest.mark.slow
def test_confirmation_and_decline_refuse_each_hostile_string_and_the_link_stays_usable(
    app, client, api_token, iop_data
):
    _, links = create_and_send(client, api_token, iop_data)
    url = links[0]["url"]
    labels = {"name": "Namn", "title": "Titel", "place": "Ort"}
    for name, value in HOSTILE_FORM_TEXT.items():
        for field, label in labels.items():
            typed = {"name": "Anna Andersson", "title": "Ordförande", "place": "Malmö", field: value}
            response = confirm(client, url, **typed)
            assert response.status_code == 400, (name, field)
            shown = field_error(
                response.get_data(as_text=True), {"name": "signer_name", "title": "signer_title"}.get(field, field)
            )
            assert shown.startswith(f"{label} innehåller"), (name, field, shown)
        response = decline(client, url, value)
        assert response.status_code == 400, name
        assert field_error(response.get_data(as_text=True), "reason").startswith("Motiveringen innehåller"), name
    assert count(app, Confirmation) == 0
    with app.extensions["db"].session() as session:
        assert session.scalars(select(SigningLink.used_at)).all() == [None, None]
    assert client.get(path_of(url)).status_code == 200
    assert confirm(client, url, "Malmö").status_code == 200
