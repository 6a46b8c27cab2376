"""Issue 11, items 11 and 12: the declaration form says up front what is required (and when), keeps
the privacy notice one tap away with one consent, fills what it can, and after sending the address
becomes the traveller's own link."""
import re
from datetime import timedelta
from urllib.parse import unquote

from sqlalchemy import select

from kiemdich import clock, tokens
from kiemdich.declarations.rules import from_cccd
from kiemdich.extensions import db
from kiemdich.models import Declaration, PrivacyNotice
from tests.factories import CheckpointFactory
from tests.test_declarations import errors_of, inputs, post, valid_form

REQUIRED = ["full_name", "id_type", "id_number", "birth_year", "phone", "nationality", "travel_date",
            "dest_street", "vehicle_type", "vehicle_plate", "last_dose_date", "contact_street", "consent"]
OPTIONAL = ["birth_date", "origin_street", "vehicle_seat", "places_visited", "recovered_date", "test_kind",
            "test_date", "on_behalf_by"]


def _label(page: str, field_id: str) -> str:
    """The opening tag of a field's label."""
    return re.search(rf'<label for="{field_id}"[^>]*>', page).group(0)


def test_required_fields_are_marked_and_optional_ones_are_not(app, client):
    page = client.get("/khai-bao").get_data(as_text=True)
    assert "Các mục có dấu * là bắt buộc." in page
    found = inputs(page)
    for name in REQUIRED:
        assert 'class="required"' in _label(page, name), name  # the "*" (static/css/declaration.css)
        assert "required" in found[name], name
    for name in OPTIONAL:
        assert "required" not in _label(page, name) and "required" not in found[name], name
    for legend in ("Giới tính", "Số mũi vắc xin COVID-19 đã tiêm", "Nơi đến", "Nơi đi"):
        assert f'<legend class="required">{legend}</legend>' in page, legend


def test_conditional_requirements_are_said_before_sending(app, client):
    page = client.get("/khai-bao").get_data(as_text=True)
    # The number plate is there from the start, marked, with its condition, for the default motorbike.
    assert 'data-kd-show-when="vehicle_type:xe_may,o_to,xe_khach,xe_tai,khac"' in page
    assert "Bắt buộc với xe máy, ô tô, xe khách, xe tải." in page
    assert "Bắt buộc nếu đã tiêm." in page
    assert 'data-kd-show-when="vehicle_type:xe_khach"' in page  # the seat only for a coach


def test_the_notice_is_one_tap_away_and_consent_is_asked_once(app, client):
    cp = CheckpointFactory()
    db.session.commit()
    page = client.get(f"/c/{cp.code}").get_data(as_text=True)
    notice = re.search(r"<details class=\"notice\"[^>]*>", page).group(0)
    assert " open" not in notice  # collapsed: its summary is the one tap
    assert page.count('type="checkbox"') - page.count('name="symptoms"') - page.count('name="exposure_') \
        - page.count('name="on_behalf"') - page.count('name="contact_same"') == 1
    assert 'name="consent"' in page
    # The notice no longer claims that sending alone is consent.
    assert "Khi bấm" not in page and "là bạn đã đọc và đồng ý" not in page


def test_a_form_sent_back_keeps_the_notice_and_shows_a_new_one_open(app, client):
    response = post(client, valid_form(consent=None))
    assert response.status_code == 422 and errors_of(response)["consent"]
    # The page's notice stays as it is (htmx keeps the element): the fragment carries no copy.
    body = response.get_data(as_text=True)
    assert '<details class="notice" id="kd-notice" hx-preserve="true"></details>' in body
    assert '<fieldset class="choices" id="symptoms" hx-preserve="true"></fieldset>' in body  # likewise the ticks
    db.session.add(PrivacyNotice(version="2026-02", text="Thông báo mới: mục đích phòng, chống dịch.",
                                 published_at=clock.utcnow() + timedelta(seconds=1)))
    db.session.commit()
    stale = post(client, valid_form(consent_version="2026-01")).get_data(as_text=True)
    assert '<details class="notice" id="kd-notice" open>' in stale and "Thông báo mới" in stale
    assert "kd-notice\" hx-preserve" not in stale


def test_a_cccd_number_gives_the_year_of_birth_and_the_sex():
    assert from_cccd("079190123456") == (1990, "nu")
    assert from_cccd("001085000123") == (1985, "nam")
    assert from_cccd("075305001234") == (2005, "nu")
    assert from_cccd("07919012345") is None and from_cccd("07919012345A") is None


def test_year_of_birth_and_sex_come_from_the_cccd_when_left_empty(app, client):
    response = post(client, valid_form(birth_year="", sex=None, id_number="079 085 012 345"))
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert decl.birth_year == 1985 and decl.sex == "nam"


def test_what_the_traveller_chose_wins_over_the_cccd(app, client):
    response = post(client, valid_form(birth_year="1990", sex="khac"))
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert decl.birth_year == 1990 and decl.sex == "khac"


def test_contact_address_defaults_to_where_the_traveller_stays(app, client):
    page = client.get("/khai-bao").get_data(as_text=True)
    assert re.search(r'<input checked id="contact_same" name="contact_same" type="checkbox" value="y">', page)
    response = post(client, valid_form(contact_same="y", contact_province="", contact="", contact_street=""))
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert decl.contact_commune_code == decl.dest_commune_code == "25210"
    assert decl.contact_street == decl.dest_street == "Tổ 3, khu phố Tân Bình"


def test_another_contact_address_is_still_required_in_full(app, client):
    response = post(client, valid_form(contact="", contact_street=""))
    assert response.status_code == 422
    errors = errors_of(response)
    assert errors["contact"] and errors["contact_street"]
    assert db.session.scalar(select(Declaration.id)) is None


def test_vaccine_doses_have_no_default_and_must_be_chosen(app, client):
    page = client.get("/khai-bao").get_data(as_text=True)
    assert not re.search(r'<input checked id="vaccine_doses-\d"', page)
    response = post(client, valid_form(vaccine_doses=None, last_dose_date=""))
    assert response.status_code == 422
    assert errors_of(response) == {"vaccine_doses": ["Chọn số mũi vắc xin đã tiêm (0 nếu chưa tiêm)."]}


def test_the_last_dose_is_typed_as_on_the_certificate(app, client):
    day = clock.today() - timedelta(days=60)
    response = post(client, valid_form(last_dose_date=day.strftime("%d%m%Y")))
    assert response.status_code == 200, errors_of(response)
    assert db.session.scalar(select(Declaration.last_dose_date)) == day


def test_after_sending_the_address_becomes_the_personal_link(app, client):
    response = post(client, valid_form())
    assert response.status_code == 200, errors_of(response)
    pushed = unquote(response.headers["HX-Push-Url"])
    assert pushed.startswith("/q#")
    decl = db.session.scalar(select(Declaration))
    assert tokens.verify(pushed.removeprefix("/q#")).token_id == decl.token_id
    assert client.get("/q").status_code == 200  # what a reload of that address asks for


def test_a_staff_phone_keeps_its_address(app, client, auth, users):
    auth.login("chot1")
    cp = users["checkpoint"].checkpoints[0].checkpoint
    response = post(client, valid_form(), path=f"/c/{cp.code}")
    assert response.status_code == 200, errors_of(response)
    assert "HX-Push-Url" not in response.headers  # the next traveller's form, not this one's link
