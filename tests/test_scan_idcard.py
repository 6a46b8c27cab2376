"""The chip ID card's QR at the scan screen: the person's valid declaration, else the assisted
declaration prefilled from the card; nothing stored before the staff member sends it."""
import re
import unicodedata

import pytest
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.models import AuditEvent, Declaration, Passage
from tests.conftest import csrf_token
from tests.factories import AreaLevelFactory, DeclarationFactory
from tests.test_declarations import HX, errors_of, inputs, valid_form

NAME = "Nguyễn Thị Ánh Tuyết"
CARD = f"075190001234|285123456|{NAME}|05031990|Nữ|Tổ 3, Phường Tân Phú, Thành phố Đồng Xoài, Bình Phước|10042021"


@pytest.fixture
def staff(client, auth, users):
    auth.login("chot1")
    html = client.get("/chot/quet").get_data(as_text=True)
    return {"checkpoint": users["checkpoint"].checkpoints[0].checkpoint,
            "csrf": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)}


def _lookup(client, staff, card):
    return client.post("/chot/quet/tim", data={"card": card, "chot": staff["checkpoint"].code},
                       headers={"X-CSRFToken": staff["csrf"], "HX-Request": "true"})


def _assisted(client, staff, card):
    return client.post(f"/c/{staff['checkpoint'].code}/khai-ho", data={"card": card},
                       headers={"X-CSRFToken": staff["csrf"]})


def _writes():
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Declaration, Passage, AuditEvent))


@pytest.mark.parametrize("card", [
    CARD,
    "075190001234|" + unicodedata.normalize("NFD", f"{NAME}|05031990|Nữ|Tổ 3, Đồng Xoài|10042021"),  # 6 fields, NFD
    "******001234|NGUYEN THI ANH TUYET|1990-**-**|0|QID1|".replace("******001234", "075190001234"),  # PC-Covid
    "079190009999|285123456|Nguyễn Thị Ánh Tuyết|05031990|Nữ|Tổ 3|10042021",  # a new card, the old number known
])
def test_a_card_opens_the_persons_valid_declaration(client, staff, card):
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory(full_name=NAME, id_number="075190001234" if "285123456" not in card or
                              card.startswith("075") else "285123456")
    db.session.commit()
    before = _writes()
    response = _lookup(client, staff, card)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert decl.full_name in html and 'data-stance="conditions"' in html  # the verdict card, amber
    assert f'value="{decl.code}"' in html  # its passage form names the declaration
    assert _writes() == before


def test_an_expired_declaration_is_not_the_persons_valid_one(client, staff):
    DeclarationFactory(full_name=NAME, id_number="075190001234", valid_until=clock.utcnow())
    db.session.commit()
    html = _lookup(client, staff, CARD).get_data(as_text=True)
    assert "Chưa có tờ khai: khai hộ" in html and "data-stance" not in html


def test_no_declaration_offers_the_assisted_form_prefilled_and_writes_nothing(client, staff):
    before = _writes()
    nfd = unicodedata.normalize("NFD", CARD)
    card_html = _lookup(client, staff, nfd).get_data(as_text=True)
    assert "Chưa có tờ khai: khai hộ" in card_html and NAME in card_html and "05/03/1990" in card_html
    assert "075190001234" not in card_html.replace(nfd, "")  # shown masked (the raw card rides in a hidden field)
    assert f'action="/c/{staff["checkpoint"].code}/khai-ho"' in card_html and 'method="post"' in card_html

    response = _assisted(client, staff, nfd)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    fields = inputs(html)
    assert fields["full_name"]["value"] == NAME  # with its diacritics, in NFC
    assert unicodedata.is_normalized("NFC", fields["full_name"]["value"])
    assert fields["id_number"]["value"] == "075190001234"
    assert fields["birth_year"]["value"] == "1990" and fields["birth_date"]["value"] == "1990-03-05"
    assert re.search(r'<input[^>]*checked[^>]*value="nu"|<input[^>]*value="nu"[^>]*checked', html)
    # The pre-2025 address resolved to today's commune (Tân Phú, Đồng Xoài → Phường Bình Phước).
    assert re.search(r'<option[^>]*value="25195"[^>]*selected|<option selected[^>]*value="25195"', html)
    assert fields["contact_street"]["value"] == "Tổ 3, Phường Tân Phú"
    assert fields["dest_street"]["value"] == "Tổ 3, Phường Tân Phú"  # home province: offered as the destination
    assert fields["phone"].get("value", "") == ""
    assert f'action="/c/{staff["checkpoint"].code}"' in html
    assert "Đã điền sẵn từ thẻ căn cước" in html
    assert _writes() == before


def test_the_assisted_declaration_needs_no_phone_and_prints_the_slip(client, staff):
    path = f"/c/{staff['checkpoint'].code}"
    response = client.post(path, data=dict(valid_form(phone="", full_name=NAME), csrf_token=staff["csrf"]), headers=HX)
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert decl.phone == "" and decl.on_behalf and decl.source == "staff"
    body = response.get_data(as_text=True)
    assert "In phiếu" in body and "<svg" in body  # the slip with the personal QR, to print
    relative = client.post(path, data=dict(valid_form(nonce="00000000000000aa", id_number="075190000002",
                                                      phone="0987 654 321"), csrf_token=staff["csrf"]), headers=HX)
    assert relative.status_code == 200


def test_a_traveller_declaring_alone_still_gives_a_phone(client):
    response = client.post("/khai-bao", data=dict(valid_form(phone=""), csrf_token=csrf_token(client, "/khai-bao")),
                           headers=HX)
    assert response.status_code == 422 and "phone" in errors_of(response)
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 0


@pytest.mark.parametrize("junk", ["075190001234|Nguyễn A|31021990|Nữ|Tổ 3|10042021", "hello|world", ""])
def test_an_unreadable_card_is_said_so_and_nothing_changes(client, staff, junk):
    before = _writes()
    response = _lookup(client, staff, junk)
    assert response.status_code == 422
    assert "Không đọc được mã QR của thẻ căn cước" in response.get_data(as_text=True)
    form = _assisted(client, staff, junk)
    assert form.status_code == 422 and "Không đọc được mã QR của thẻ căn cước" in form.get_data(as_text=True)
    assert inputs(form.get_data(as_text=True))["full_name"].get("value", "") == ""
    assert _writes() == before


@pytest.mark.parametrize("username", ["xa1", "super1", None])
def test_only_checkpoint_staff_open_the_prefilled_form(client, auth, users, username):
    code = users["checkpoint"].checkpoints[0].checkpoint.code
    if username:
        auth.login(username)
    response = client.post(f"/c/{code}/khai-ho", data={"card": CARD},
                           headers={"X-CSRFToken": csrf_token(client, "/" if username else "/dang-nhap")})
    if username:
        assert response.status_code == 403
    else:  # signed out: to the sign-in page
        assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"]
    assert NAME not in response.get_data(as_text=True)
