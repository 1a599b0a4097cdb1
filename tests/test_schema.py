import pytest

from service.schema import SchemaError, validate_agreement

from .helpers import org_number


def errors_of(data):
    with pytest.raises(SchemaError) as info:
        validate_agreement(data)
    return info.value.errors


def test_examples_are_valid(iop_data, halland_data):
    iop = validate_agreement(iop_data)
    assert iop.kind == "iop" and len(iop.parties) == 2
    halland = validate_agreement(halland_data)
    assert halland.kind == "overenskommelse" and len(halland.parties) == 12


def test_missing_title_is_named_in_swedish(iop_data):
    del iop_data["title"]
    assert errors_of(iop_data) == {"title": "Titel måste fyllas i"}


def test_org_number_with_wrong_check_digit(iop_data):
    good = iop_data["parties"][1]["org_number"]
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    iop_data["parties"][1]["org_number"] = bad
    assert errors_of(iop_data) == {"parties.1.org_number": "Part 2: Organisationsnummer har fel kontrollsiffra"}


def test_org_number_without_dash_is_accepted_and_normalised(iop_data):
    iop_data["parties"][0]["org_number"] = "2321000255"
    assert validate_agreement(iop_data).parties[0].org_number == "232100-0255"


def test_org_number_must_have_ten_digits(iop_data):
    iop_data["parties"][0]["org_number"] = "12345-678"
    assert "tio siffror" in errors_of(iop_data)["parties.0.org_number"]


def test_end_must_be_after_start(iop_data):
    iop_data["period"]["end"] = "2020-12-31"
    assert errors_of(iop_data)["period"] == "Period har ett slutdatum som inte är efter startdatum"


def test_dates_are_iso(iop_data):
    iop_data["period"]["start"] = "1/1 2021"
    assert errors_of(iop_data)["period.start"] == "Period: Startdatum måste vara ett datum (ÅÅÅÅ-MM-DD)"


def test_amounts_are_whole_non_negative_kronor(iop_data):
    iop_data["parties"][0]["resources"]["amount_kr"] = -5
    assert "mindre än 0" in errors_of(iop_data)["parties.0.resources.amount_kr"]
    iop_data["parties"][0]["resources"]["amount_kr"] = 12.5
    assert "heltal" in errors_of(iop_data)["parties.0.resources.amount_kr"]


def test_unknown_kind(iop_data):
    iop_data["kind"] = "lease"
    assert errors_of(iop_data) == {"kind": "Avtalstyp har ett värde som inte är tillåtet"}


def test_two_hundred_parties_pass(halland_data):
    template = halland_data["parties"][1]
    halland_data["parties"] = [
        dict(template, name=f"Förening {i}", org_number=org_number(f"802{i:06d}")) for i in range(200)
    ]
    assert len(validate_agreement(halland_data).parties) == 200


def test_huge_text_is_refused(iop_data):
    iop_data["introduction"] = "x" * (100 * 1024 * 1024)
    assert "högst 20000 tecken" in errors_of(iop_data)["introduction"]


def test_control_characters_are_refused(iop_data):
    iop_data["title"] = "Avtal\x00\x1b"
    assert errors_of(iop_data) == {"title": "Titel innehåller otillåtna styrtecken"}


def test_unknown_field_is_refused(iop_data):
    iop_data["parties"][0]["salary"] = 1
    assert "okänt fält" in errors_of(iop_data)["parties.0.salary"]


def test_bidi_overrides_that_could_hide_text_are_refused(iop_data):
    iop_data["parties"][0]["resources"]["text"] = "Bidrag \u202e000 057 1\u202c kr"
    assert "vänder textens riktning" in errors_of(iop_data)["parties.0.resources.text"]
