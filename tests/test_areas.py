"""Administrative units: loading, accent-insensitive search, the cascading picker."""
import re

import pytest
from sqlalchemy import select

from kiemdich.areas.operations import search_communes, upsert_units, vietnam_2025_rows
from kiemdich.extensions import db
from kiemdich.models import AdminUnit, Declaration


def test_official_units_are_loaded_with_string_codes(app):
    provinces = db.session.scalars(select(AdminUnit).where(AdminUnit.kind == "province")).all()
    assert len(provinces) == 34
    assert db.session.scalar(select(db.func.count()).select_from(AdminUnit).where(AdminUnit.kind == "commune")) == 3321
    dong_nai = db.session.get(AdminUnit, "75")
    assert dong_nai.name == "Đồng Nai" and len(dong_nai.children) == 95
    assert db.session.get(AdminUnit, "00004").parent_code == "01"  # leading zeros kept
    assert db.session.get(AdminUnit, "25417").name == "Xã Nghĩa Trung"


def test_loading_again_changes_nothing(app):
    assert upsert_units(vietnam_2025_rows()) == (0, 0)


@pytest.mark.parametrize("query", ["song lieu", "Song Liễu", "SONG LIEU", "sông liễu", "  song   lieu "])
def test_search_ignores_case_and_diacritics(app, query):
    assert search_communes(query, "75") == []  # not in Đồng Nai
    names = [c.name for c in search_communes(query, province_code=None)]
    assert "Phường Song Liễu" in names


@pytest.mark.parametrize("query", ["nghia trung", "Nghĩa Trung", "NGHIA TRUNG", "xa nghia trung"])
def test_search_in_home_province(app, query):
    assert [c.code for c in search_communes(query, "75")] == ["25417"]


def test_search_treats_wildcards_as_text(app):
    assert search_communes("%", "75") == []
    assert search_communes("_", "75") == []


def test_csv_dataset_loads_through_the_same_path(app, runner, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("code,name,kind,parent_code\n70,Tỉnh Bình Phước,province,\n"
                    "698,Huyện Bù Đăng,district,70\n25417,Xã Đức Liễu,commune,698\n", encoding="utf-8-sig")
    result = runner.invoke(args=["kiemdich", "load-areas", "--csv", str(path), "--dataset", "vn2021"])
    assert "3 added" in result.output, result.output
    old = db.session.get(AdminUnit, "vn2021:25417")
    assert old.name == "Xã Đức Liễu" and old.parent.parent.name == "Tỉnh Bình Phước"
    assert old.search_name == "xa duc lieu"
    assert db.session.get(AdminUnit, "25417").name == "Xã Nghĩa Trung"  # today's unit untouched
    again = runner.invoke(args=["kiemdich", "load-areas", "--csv", str(path), "--dataset", "vn2021"])
    assert "0 added, 0 updated" in again.output
    # Old units never show up in today's picker.
    assert all(c.dataset == "vn2025" for c in search_communes("duc lieu", None))


def test_csv_with_missing_columns_is_refused(app, runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ma,ten\n1,x\n", encoding="utf-8")
    result = runner.invoke(args=["kiemdich", "load-areas", "--csv", str(path), "--dataset", "x"])
    assert result.exit_code != 0 and "missing columns" in result.output


def test_picker_fragment_for_htmx(client):
    response = client.get("/dia-ban/xa?field=dest&dest_province=75&dest_q=DONG+XOAI",
                          headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<option value="25210"' in html and "Phường Đồng Xoài" in html
    assert "<html" not in html and len(response.data) < 5 * 1024
    assert "HX-Request" in response.headers["Vary"]


def test_picker_keeps_the_selection(client):
    html = client.get("/dia-ban/xa?field=dest&dest_province=75&dest_q=dong&dest=25210",
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<option value="25210" selected>' in html


def test_picker_changes_with_the_province(client):
    html = client.get("/dia-ban/xa?field=origin&origin_province=79", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Phường Vũng Tàu" in html and "Phường Đồng Xoài" not in html
    assert html.count("<option") == 168  # every ward of Hồ Chí Minh City, for scrolling


def test_picker_says_when_nothing_matches(client):
    html = client.get("/dia-ban/xa?field=dest&dest_province=75&dest_q=zzzz", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Không tìm thấy xã, phường" in html


def test_same_url_without_htmx_is_a_full_page(client):
    html = client.get("/dia-ban/xa?q=nghia+trung&tinh=75").get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "Xã Nghĩa Trung" in html


# Pre-2025 names (issue 11, item 15) -------------------------------------------------------------

@pytest.mark.parametrize("query", ["duc lieu", "Đức Liễu", "ĐỨC LIỄU", "xa duc lieu"])
def test_a_former_commune_name_finds_todays_commune(app, query):
    from kiemdich.areas.operations import search_communes_and_former

    units, former = search_communes_and_former(query, "75")
    assert [u.code for u in units] == ["25417"] and units[0].name == "Xã Nghĩa Trung"
    assert [f.name for f in former["25417"]] == ["xã Đức Liễu"]
    assert search_communes_and_former(query, "79") == ([], {})  # not in Ho Chi Minh City


def test_picker_labels_the_match_with_the_former_name_and_sends_todays_code(app, client):
    response = client.get("/dia-ban/xa", query_string={"field": "dest", "dest_province": "75",
                                                       "dest_q": "duc lieu", "blank": "1"},
                          headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert '<option value="25417" selected>Xã Nghĩa Trung (gồm xã Đức Liễu cũ)</option>' in html
    assert "vn2021" not in html
    # A search that matches today's name shows it plainly.
    plain = client.get("/dia-ban/xa", query_string={"field": "dest", "dest_province": "75", "dest_q": "nghia trung"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<option value="25417">Xã Nghĩa Trung</option>' in plain


def test_a_split_former_commune_is_labelled_as_a_part(app, client):
    from kiemdich.areas.former import index

    split = next(f for f in index() if f.partial and f.province == "75")
    html = client.get("/dia-ban/xa", query_string={"tinh": "75", "q": split.folded}).get_data(as_text=True)
    assert f"một phần {split.name}" in html


def test_declaring_with_a_former_name_stores_the_2025_code(app, client):
    from tests.test_declarations import errors_of, post, valid_form

    options = client.get("/dia-ban/xa", query_string={"field": "dest", "dest_province": "75", "dest_q": "đức liễu",
                                                     "blank": "1"}, headers={"HX-Request": "true"})
    code = re.search(r'<option value="(\d+)" selected>', options.get_data(as_text=True)).group(1)
    response = post(client, valid_form(dest=code))
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert decl.dest_commune_code == "25417" and decl.dest_commune.name == "Xã Nghĩa Trung"
