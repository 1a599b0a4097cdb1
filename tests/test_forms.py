"""The agreement form's fields and the nested data the schema validates, both ways."""

import pytest
from werkzeug.datastructures import MultiDict

from service import forms, schema
from service.schema import SchemaError, validate_agreement


def test_the_form_layout_is_read_from_the_schema():
    iop, halland = forms.LAYOUTS["iop"], forms.LAYOUTS["overenskommelse"]
    assert list(iop) == [name for name in schema.IopAgreement.model_fields if name != "kind"]
    assert list(halland) == [name for name in schema.Overenskommelse.model_fields if name != "kind"]
    assert (
        forms.PARTY["kind"] is forms.Text
    )  # a choice (Literal) is a text field; only the agreement's kind is left out
    assert iop["period"] == {"start": forms.Date, "end": forms.Date, "extension_years": forms.Number}
    assert forms.PARTY["resources"] == {"text": forms.Text, "amount_kr": forms.OptionalNumber}
    assert iop["parties"] == halland["parties"] == forms.Rows(forms.PARTY)
    assert iop["activities"] == forms.Rows(forms.Text)  # a list of texts: a numbered field per item
    assert halland["goals"] is forms.Lines and iop["bodies"].item["items"] is forms.Lines  # marked OnePerLine


def test_a_field_added_to_a_model_is_a_form_field_without_more_code():
    class Goal(schema.Goal):
        owner: schema.OptionalName = ""
        budget_kr: int | None = None
        checkpoints: schema.Lines = []

    assert forms.layout_of(Goal) == {
        "heading": forms.Text,
        "text": forms.Text,
        "owner": forms.Text,
        "budget_kr": forms.OptionalNumber,
        "checkpoints": forms.Lines,
    }


def test_the_skane_iop_survives_a_round_trip(iop_data):
    fields = forms.to_form(iop_data)
    assert fields["parties-1-representative-name"] == "Birthe Wallin"
    assert fields["parties-0-resources-amount_kr"] == "1750000"
    assert fields["parties-1-resources-amount_kr"] == ""
    assert fields["goals-2-heading"] == "Skåne ska stärka mångfalden av goda livsmiljöer"
    assert fields["bodies-1-items"].splitlines() == iop_data["bodies"][1]["items"]
    assert fields["principles-5"] == "mångfald" and fields["period-start"] == "2021-01-01"
    assert forms.from_form("iop", MultiDict(fields)) == iop_data


def test_the_halland_agreement_survives_a_round_trip(halland_data):
    fields = forms.to_form(halland_data)
    assert fields["principles-1-actions"].splitlines() == halland_data["principles"][1]["actions"]
    assert fields["goals"].splitlines() == halland_data["goals"]
    assert fields["parties-11-org_number"] == "802772-8370" and fields["blank_rows"] == "3"
    assert forms.from_form("overenskommelse", MultiDict(fields)) == halland_data


def test_textarea_lists_drop_blank_lines_and_windows_line_ends():
    data = forms.from_form(
        "overenskommelse", {"principles-0-heading": "Dialog", "principles-0-actions": " Första\r\n\r\n  Andra  \r\n"}
    )
    assert data["principles"][0]["actions"] == ["Första", "Andra"]


def test_numbers_are_read_as_whole_numbers_or_left_for_the_schema_to_refuse():
    fields = {
        "notice_months": " 9 ",
        "parties-0-resources-amount_kr": "1 750 000",
        "parties-1-resources-amount_kr": "mycket",
        "period-start": "",
        "period-end": "2024-12-31",
    }
    data = forms.from_form("iop", fields)
    assert data["notice_months"] == 9
    assert data["parties"][0]["resources"]["amount_kr"] == 1750000
    assert data["parties"][1]["resources"]["amount_kr"] == "mycket"
    assert data["period"] == {"end": "2024-12-31"}  # blank: missing, so the schema says 'måste fyllas i'
    assert "extension_years" not in data["period"]


def test_rows_are_read_in_order_even_with_gaps_left_by_the_script():
    fields = MultiDict(
        [
            ("activities-4", "Fem"),
            ("activities-0", "Ett"),
            ("activities-12", "Tretton"),
            ("activities_intro", "Inledning"),
        ]
    )
    data = forms.from_form("iop", fields)
    assert data["activities"] == ["Ett", "Fem", "Tretton"] and data["activities_intro"] == "Inledning"


def test_blank_rows_are_left_out_when_saving(iop_data):
    data = forms.from_form(
        "iop", {**forms.to_form(iop_data), "goals-9-heading": " ", "goals-9-text": "", "activities-30": ""}
    )
    assert len(data["goals"]) == 7 and len(data["activities"]) == 21
    assert forms.without_blank_rows(data) == iop_data


def test_a_party_with_only_its_kind_chosen_is_kept_so_its_errors_show():
    data = forms.without_blank_rows(forms.new_agreement("iop"))
    assert len(data["parties"]) == 2


def test_schema_errors_are_placed_at_their_fields(iop_data):
    iop_data["parties"][1]["org_number"] = "802916-1464"
    iop_data["period"]["end"] = "2020-01-01"
    iop_data["activities"][3] = ""
    with pytest.raises(SchemaError) as info:
        validate_agreement(iop_data)
    assert forms.field_errors("iop", info.value.errors) == {
        "parties-1-org_number": "Part 2: Organisationsnummer har fel kontrollsiffra",
        "period-end": "Period har ett slutdatum som inte är efter startdatum",
        "activities-3": "Insats 4 måste fyllas i",
    }
    assert forms.field_for("overenskommelse", "principles.1.actions.3") == "principles-1-actions"
    assert forms.field_for("overenskommelse", "goals.2") == "goals"
    assert forms.field_for("iop", "parties") == "parties"
    assert forms.field_for("iop", "parties.0.representative.name") == "parties-0-representative-name"


def test_new_iop_starts_with_the_six_principles_and_two_parties():
    state = forms.form_state(forms.new_agreement("iop"))
    assert state.rows == {"parties": 2, "principles": 6, "goals": 0, "activities": 0, "bodies": 0}
    assert state.values["principles-0"] == "självständighet och oberoende"
    assert state.values["parties-0-kind"] == "offentlig" and state.values["parties-1-kind"] == "idéburen"
    assert state.values["period-extension_years"] == "0" and state.values["notice_months"] == ""


def test_list_buttons_add_and_remove_rows(iop_data):
    added = forms.apply_action(iop_data, "add:parties")
    assert len(added["parties"]) == 3 and added["parties"][2] == forms.blank_party()
    assert forms.apply_action(iop_data, "add:goals")["goals"][-1] == {"heading": "", "text": ""}
    assert forms.apply_action(iop_data, "add:activities")["activities"][-1] == ""
    removed = forms.apply_action(iop_data, "remove:parties:0")
    assert [p["name"] for p in removed["parties"]] == ["NÄTVERKET – Idéburen sektor Skåne"]
    assert len(iop_data["parties"]) == 2  # the original is untouched


@pytest.mark.parametrize("action", ["add:title", "remove:parties:9", "remove:parties:x", "drop:parties", "add:"])
def test_list_buttons_the_form_cannot_have_sent_are_refused(iop_data, action):
    with pytest.raises(forms.FormError):
        forms.apply_action(iop_data, action)


def test_accession_form_reads_one_party():
    fields = {
        "parties-12-name": "Nya Föreningen",
        "parties-12-org_number": "802479-4565",
        "parties-12-kind": "idéburen",
        "parties-11-name": "Någon annan",
    }
    party = forms.party_from_form(fields, 12)
    assert party["name"] == "Nya Föreningen" and party["resources"] == {"text": "", "amount_kr": None}
