"""Lists that scale: search folding, filters, sorting, keyset pages and progress, through
the API, the officials' list and the archive."""

import copy
from datetime import timedelta

import pytest
from sqlalchemy import update

from service import listing
from service.models import Agreement, utcnow

from .helpers import bearer, confirm, create_and_send, login, org_number


def create(client, api_token, data, **changes):
    body = copy.deepcopy(data)
    body.update(changes)
    response = client.post("/api/agreements", json=body, headers=bearer(api_token))
    assert response.status_code == 201, response.json
    return response.json["id"]


def listed(client, api_token, **params):
    response = client.get("/api/agreements", query_string=params, headers=bearer(api_token))
    assert response.status_code == 200, response.json
    return response.json


def ids(client, api_token, **params):
    return [item["id"] for item in listed(client, api_token, **params)["items"]]


def test_fold_and_compact_match_what_people_type():
    assert listing.fold("NÄTVERKET – Idéburen  sektor Skåne") == "natverket – ideburen sektor skane"
    assert listing.compact("RS 2020/2741") == listing.compact("rs2020-2741") == "rs20202741"
    assert listing.compact("802916-1463") == listing.compact("802916 1463") == "8029161463"


@pytest.mark.parametrize(
    "typed",
    ["natverket", "NÄTVERKET", "skane", "Region Skåne", "ideburen sektor", "RS 2020/2741", "rs2020-2741", "2020/2741"],
)
def test_search_folds_case_and_accents_and_finds_diarienummer(client, api_token, iop_data, typed):
    wanted = create(client, api_token, iop_data, registration_number="RS 2020/2741")
    create(client, api_token, iop_data, title="Annat avtal", registration_number="KS 2019/1", parties=[])
    assert ids(client, api_token, q=typed) == [wanted]


def test_organisation_number_with_or_without_spaces_and_dashes(client, api_token, iop_data):
    number = iop_data["parties"][1]["org_number"]  # NÄTVERKET's, as NNNNNN-NNNN
    other = copy.deepcopy(iop_data)
    other["parties"][1]["org_number"] = org_number("556677889")
    wanted = create(client, api_token, iop_data)
    create(client, api_token, other)
    digits = number.replace("-", "")
    for typed in (number, digits, f"{digits[:6]} {digits[6:]}"):
        assert ids(client, api_token, org_number=typed) == [wanted], typed
        assert ids(client, api_token, q=typed) == [wanted], typed
    assert ids(client, api_token, org_number=digits[:6]) == []  # a filter on the number is exact


def test_pages_follow_the_cursor_without_gaps_or_repeats(app, client, api_token, iop_data):
    created = [create(client, api_token, iop_data, title=f"Avtal {n:03}") for n in range(57)]
    # Many agreements changed at the same moment: the id breaks the tie.
    with app.extensions["db"].session() as session:
        session.execute(update(Agreement).values(updated_at=utcnow() - timedelta(days=1)))
    first = listed(client, api_token)
    assert len(first["items"]) == listing.PAGE_SIZE and first["next_cursor"]
    second = listed(client, api_token, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert seen == sorted(created, reverse=True)

    by_title, cursor = [], None
    while True:
        page = listed(client, api_token, sort="title", limit=10, **({"cursor": cursor} if cursor else {}))
        by_title += [item["title"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert by_title == sorted(by_title) and len(by_title) == 57


@pytest.mark.slow
def test_status_filter_sort_and_progress_counted_per_row(client, api_token, iop_data):
    draft = create(client, api_token, iop_data, title="Utkastet")
    sent, links = create_and_send(client, api_token, iop_data)
    assert confirm(client, links[0]["url"], "Malmö").status_code == 200
    items = listed(client, api_token, sort="status")["items"]
    assert [item["id"] for item in items] == [draft, sent]
    assert items[1]["status"] == "sent" and items[1]["parties"] == {"confirmed": 1, "total": 2}
    assert items[0]["parties"] == {"confirmed": 0, "total": 2}
    assert ids(client, api_token, status="sent") == [sent]


@pytest.mark.slow
def test_updated_since_sees_answers(app, client, api_token, iop_data):
    old = create(client, api_token, iop_data)
    agreement_id, links = create_and_send(client, api_token, iop_data)
    with app.extensions["db"].session() as session:
        session.execute(update(Agreement).values(updated_at=utcnow() - timedelta(days=2)))
    since = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    assert ids(client, api_token, updated_since=since) == []
    confirm(client, links[0]["url"], "Lund")
    assert ids(client, api_token, updated_since=since) == [agreement_id]
    assert old not in ids(client, api_token, updated_since=since)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"cursor": "inte-en-markor"}, "Sidmarkören (cursor) är ogiltig"),
        ({"limit": "0"}, "Sidstorleken ska vara ett heltal från 1 till 200"),
        ({"limit": "x"}, "Sidstorleken ska vara ett heltal"),
        ({"sort": "namn"}, "Sortera efter"),
        ({"status": "okänd"}, "Okänd status"),
        ({"updated_since": "igår"}, "updated_since ska vara en tid enligt ISO 8601"),
    ],
)
def test_bad_list_parameters_are_400_with_a_swedish_message(client, api_token, params, message):
    response = client.get("/api/agreements", query_string=params, headers=bearer(api_token))
    assert response.status_code == 400 and message in response.json["message"]


def test_a_cursor_for_one_sort_is_refused_for_another(client, api_token, iop_data):
    for n in range(3):
        create(client, api_token, iop_data, title=f"Avtal {n}")
    cursor = listed(client, api_token, limit=1)["next_cursor"]
    response = client.get(
        "/api/agreements", query_string={"cursor": cursor, "sort": "title"}, headers=bearer(api_token)
    )
    assert response.status_code == 400


def test_officials_list_pages_and_filters_mina_avtal(app, client, make_user, api_token, iop_data):
    mine_user, password = make_user("official", "min@region.example.se")
    others = [create(client, api_token, iop_data, title=f"Kollegans avtal {n}") for n in range(3)]
    login(client, mine_user.email, password)
    page = client.get("/avtal/ny?typ=iop")
    assert page.status_code == 200
    with app.extensions["db"].session() as session:
        session.execute(update(Agreement).where(Agreement.id == others[0]).values(created_by_id=mine_user.id))
    html = client.get("/avtal?mina=1").get_data(as_text=True)
    assert "Kollegans avtal 0" in html and "Kollegans avtal 1" not in html
    assert "1 avtal som matchar sökningen" in html

    html = client.get("/avtal?antal=2").get_data(as_text=True)
    assert "3 avtal, 2 visas" in html and "Nästa sida" in html
    assert "Kollegans avtal 2" in html and "Kollegans avtal 0" not in html
    next_url = html.split("Nästa sida")[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    rest = client.get(next_url).get_data(as_text=True)
    assert "Kollegans avtal 0" in rest and "Kollegans avtal 2" not in rest and "Första sidan" in rest


def test_archive_finds_by_folded_text_and_shows_first_parties(client, make_user, api_token, halland_data):
    halland_data["registration_number"] = "RS 2023/15"
    create(client, api_token, halland_data)
    archivist, password = make_user("archivist")
    login(client, archivist.email, password)
    html = client.get("/arkiv", query_string={"status": "", "q": "overenskommelse", "dnr": "rs2023-15"}).get_data(
        as_text=True
    )
    assert "1 avtal hittades" in html and halland_data["title"] in html
    assert halland_data["parties"][0]["name"] in html


def test_archive_sorts_by_title_and_pages(client, make_user, api_token, iop_data):
    for title in ("Cedern", "Asken", "Björken"):
        create(client, api_token, iop_data, title=title)
    archivist, password = make_user("archivist")
    login(client, archivist.email, password)
    html = client.get("/arkiv", query_string={"status": "", "sort": "title"}).get_data(as_text=True)
    assert html.index("Asken") < html.index("Björken") < html.index("Cedern")
    assert '<option value="title" selected>' in html
