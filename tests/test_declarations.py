"""The public declaration form: each validation rule, sending once, the rate limit, khai hộ,
the privacy notice version, the validity window, self check-in and old poster codes."""
import re
from html.parser import HTMLParser
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from kiemdich import clock, tokens
from kiemdich.declarations import operations as ops
from kiemdich.declarations.rules import valid_until
from kiemdich.extensions import db
from kiemdich.models import AuditEvent, Declaration, Passage, PrivacyNotice
from tests.conftest import csrf_token
from tests.factories import CheckpointFactory, DeclarationFactory, RetiredCheckpointCodeFactory

HX = {"HX-Request": "true"}


def valid_form(**overrides) -> dict:
    today = clock.today()
    data = {
        "nonce": "0123456789abcdef", "consent_version": "2026-01", "consent": "y",
        "full_name": "Trần Thị Bích Ngọc", "id_type": "cccd", "id_number": "079190123456",
        "birth_year": "1990", "birth_date": "", "sex": "nu", "phone": "+84 912 345 678",
        "nationality": "Việt Nam", "contact_province": "79", "contact": "26743", "contact_street": "12 Lê Lợi",
        "origin_province": "79", "origin": "26743", "origin_street": "", "dest_province": "75",
        "dest": "25210", "dest_street": "Tổ 3, khu phố Tân Bình", "travel_date": today.isoformat(),
        "vehicle_type": "xe_may", "vehicle_plate": "59X1-123.45", "vehicle_seat": "",
        "places_visited": "TP. Hồ Chí Minh", "symptoms": [], "vaccine_doses": "2",
        "last_dose_date": (today - timedelta(days=60)).isoformat(), "recovered_date": "",
        "test_kind": "", "test_date": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post(client, data, path="/khai-bao", headers=HX):
    data = dict(data, csrf_token=csrf_token(client, path))
    return client.post(path, data=data, headers=headers)


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea") and attrs.get("name") and attrs.get("type") != "radio":
            self.found.setdefault(attrs["name"], attrs)


def inputs(html: str) -> dict[str, dict]:
    """name -> attributes of each form control (the first one of that name)."""
    parser = _Inputs()
    parser.feed(html)
    return parser.found


def errors_of(response) -> dict[str, list[str]]:
    """Field id -> messages shown next to it."""
    found = {}
    for field, message in re.findall(r'<p class="error" id="([\w-]+)-err">([^<]+)</p>', response.get_data(as_text=True)):
        found.setdefault(field, []).append(message)
    return found


def test_valid_declaration_is_stored_normalised(app, client):
    response = post(client, valid_form(full_name="  Trần   Thị Bích Ngọc ", vehicle_plate="59x1-123.45"))
    assert response.status_code == 200, errors_of(response)
    assert response.headers["HX-Retarget"] == "#main"
    decl = db.session.scalar(select(Declaration))
    assert decl.full_name == "Trần Thị Bích Ngọc" and decl.search_name == "tran thi bich ngoc"
    assert decl.phone == "0912345678" and decl.id_number == "079190123456"
    assert decl.vehicle_plate == "59X1-123.45" and decl.dest_commune_code == "25210"
    assert decl.origin_province_code == "79" and decl.contact_commune_code == "26743"
    assert decl.source == "web" and not decl.on_behalf and decl.consent_version == "2026-01"
    assert decl.token_id == "0123456789abcdef" and re.fullmatch(r"[0-9A-Z]{8}", decl.code)
    body = response.get_data(as_text=True)
    assert decl.code in body and "<svg" in body and "••••••••3456" in body
    assert "079190123456" not in body  # the full ID number is never shown back
    token = re.search(r'data-kd-token="([^"]+)"', body).group(1)
    assert tokens.verify(token).token_id == decl.token_id
    assert f"/q#{token}" in body


RULES = [
    ({"full_name": ""}, "full_name", "Nhập họ và tên."),
    ({"full_name": "Nguyễn Văn 3"}, "full_name", "Họ và tên chỉ gồm chữ cái và dấu cách."),
    ({"id_number": ""}, "id_number", "Nhập số giấy tờ tùy thân."),
    ({"id_number": "07919012345"}, "id_number", "Số CCCD gồm đúng 12 chữ số."),
    ({"id_number": "0791901234567"}, "id_number", "Số CCCD gồm đúng 12 chữ số."),
    ({"id_number": "07919012345A"}, "id_number", "Số CCCD gồm đúng 12 chữ số."),
    ({"id_type": "cmnd", "id_number": "12345678"}, "id_number", "Số CMND gồm đúng 9 chữ số."),
    ({"id_type": "cmnd", "id_number": "079190123456"}, "id_number", "Số CMND gồm đúng 9 chữ số."),
    ({"id_type": "passport", "id_number": "1234567"}, "id_number", "Số hộ chiếu Việt Nam gồm 1 chữ cái và 7 chữ số"),
    ({"id_type": "passport", "id_number": "CC123456"}, "id_number", "Số hộ chiếu Việt Nam gồm 1 chữ cái và 7 chữ số"),
    ({"id_type": "passport", "nationality": "Hàn Quốc", "id_number": "M12"}, "id_number",
     "Số hộ chiếu gồm 6 đến 12 chữ cái hoặc chữ số."),
    ({"id_type": "visa"}, "id_type", "Hãy chọn một giá trị trong danh sách."),
    # A CCCD number tells the year of birth and the sex; other documents do not.
    ({"birth_year": "", "id_type": "passport", "id_number": "C1234567"}, "birth_year", "Nhập năm sinh."),
    ({"birth_year": "1899"}, "birth_year", "Năm sinh phải từ 1900 đến"),
    ({"birth_year": "90"}, "birth_year", "Năm sinh phải từ 1900 đến"),
    ({"birth_year": str(clock.today().year + 1)}, "birth_year", "Năm sinh phải từ 1900 đến"),
    ({"birth_date": (clock.today() + timedelta(days=1)).isoformat(), "birth_year": str(clock.today().year)},
     "birth_date", "Ngày sinh không được sau ngày hôm nay."),
    ({"birth_date": "1991-05-02"}, "birth_date", "Ngày sinh không khớp với năm sinh."),
    ({"birth_date": "31/02/1990"}, "birth_date", "Nhập ngày theo dạng ngày/tháng/năm"),
    ({"sex": None, "id_type": "cmnd", "id_number": "123456789"}, "sex", "Chọn giới tính."),
    ({"sex": "x"}, "sex", "Hãy chọn một giá trị trong danh sách."),
    ({"phone": ""}, "phone", "Nhập số điện thoại di động."),
    ({"phone": "0212345678"}, "phone", "Số điện thoại di động không hợp lệ"),
    ({"phone": "091234567"}, "phone", "Số điện thoại di động không hợp lệ"),
    ({"phone": "+1 650 253 0000"}, "phone", "Số điện thoại di động không hợp lệ"),
    ({"nationality": ""}, "nationality", "Nhập quốc tịch."),
    ({"contact": ""}, "contact", "Chọn xã, phường của địa chỉ liên lạc."),
    ({"contact": "99999"}, "contact", "Không có xã, phường này"),
    ({"contact": "79"}, "contact", "Không có xã, phường này"),
    ({"contact_street": ""}, "contact_street", "Nhập số nhà, đường hoặc thôn/ấp"),
    ({"origin_province": "", "origin": ""}, "origin", "Chọn tỉnh, thành phố nơi đi."),
    ({"origin": ""}, "origin", "Chọn xã, phường nơi đi."),
    ({"origin_province": "75"}, "origin", "Xã, phường này không thuộc tỉnh, thành phố đã chọn."),
    ({"dest": ""}, "dest", "Chọn xã, phường nơi đến."),
    ({"dest_province": "", "dest": ""}, "dest", "Chọn xã, phường nơi đến."),
    ({"dest_street": ""}, "dest_street", "Nhập địa chỉ nơi bạn sẽ ở."),
    ({"travel_date": ""}, "travel_date", "Nhập ngày đi."),
    ({"travel_date": "hôm qua"}, "travel_date", "Nhập ngày theo dạng ngày/tháng/năm"),
    ({"travel_date": (clock.today() - timedelta(days=15)).isoformat()}, "travel_date",
     "Ngày đi không được trước hôm nay quá 14 ngày."),
    ({"travel_date": (clock.today() + timedelta(days=15)).isoformat()}, "travel_date",
     "Chỉ khai báo trước ngày đi tối đa 14 ngày."),
    ({"vehicle_type": "tau_bay"}, "vehicle_type", "Hãy chọn một giá trị trong danh sách."),
    ({"vehicle_plate": ""}, "vehicle_plate", "Nhập biển số xe."),
    ({"vehicle_type": "o_to", "vehicle_plate": "ABC"}, "vehicle_plate", "Biển số xe không hợp lệ"),
    ({"symptoms": ["sot", "ngua"]}, "symptoms", "Hãy chọn một giá trị trong danh sách."),
    ({"vaccine_doses": "7"}, "vaccine_doses", "Hãy chọn một giá trị trong danh sách."),
    ({"last_dose_date": ""}, "last_dose_date", "Nhập ngày tiêm mũi gần nhất."),
    ({"vaccine_doses": "0"}, "last_dose_date", "Bạn chọn 0 mũi"),
    ({"last_dose_date": (clock.today() + timedelta(days=1)).isoformat()}, "last_dose_date",
     "Ngày tiêm không được sau ngày hôm nay."),
    ({"recovered_date": (clock.today() + timedelta(days=1)).isoformat()}, "recovered_date",
     "Ngày khỏi bệnh không được sau ngày hôm nay."),
    ({"test_kind": "pcr"}, "test_date", "Nhập ngày xét nghiệm."),
    ({"test_kind": "pcr", "test_date": (clock.today() + timedelta(days=2)).isoformat()}, "test_date",
     "Ngày xét nghiệm không được sau ngày hôm nay."),
    ({"test_kind": "elisa", "test_date": clock.today().isoformat()}, "test_kind", "Hãy chọn một giá trị trong danh sách."),
    ({"on_behalf": "y", "on_behalf_by": ""}, "on_behalf_by", "Nhập họ tên người khai hộ."),
    ({"consent": None}, "consent", "Đánh dấu ô đồng ý với thông báo xử lý dữ liệu cá nhân"),
]


@pytest.mark.parametrize("overrides,field,message", RULES, ids=[f"{r[1]}-{i}" for i, r in enumerate(RULES)])
def test_each_rule_shows_its_message_next_to_the_field(app, client, overrides, field, message):
    response = post(client, valid_form(**overrides))
    assert response.status_code == 422
    shown = errors_of(response)
    assert any(m.startswith(message) for m in shown.get(field, [])), shown
    assert len(shown) == 1, shown  # only that field is in error
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="declaration-form"')  # the fragment, not a page
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 0


@pytest.mark.parametrize("overrides, stored", [
    ({"id_type": "cmnd", "id_number": "123 456 789"}, {"id_type": "cmnd", "id_number": "123456789"}),
    ({"id_type": "passport", "id_number": "c1234567"}, {"id_type": "passport", "id_number": "C1234567"}),
    ({"id_type": "passport", "nationality": "Hàn Quốc", "id_number": "M12345678"},
     {"nationality": "Hàn Quốc", "id_number": "M12345678"}),
    ({"phone": "84912345678"}, {"phone": "0912345678"}), ({"phone": "0912.345.678"}, {"phone": "0912345678"}),
    ({"phone": "912345678"}, {"phone": "0912345678"}),
    ({"vehicle_type": "xe_dap", "vehicle_plate": ""}, {"vehicle_type": "xe_dap", "vehicle_plate": ""}),
    ({"vehicle_type": "khac", "vehicle_plate": ""}, {"vehicle_type": "khac", "vehicle_plate": ""}),
    ({"vehicle_type": "xe_khach", "vehicle_plate": "51B-123.45", "vehicle_seat": "12"},
     {"vehicle_type": "xe_khach", "vehicle_plate": "51B-123.45", "vehicle_seat": "12"}),
    ({"vaccine_doses": "0", "last_dose_date": ""}, {"vaccine_doses": 0, "last_dose_date": None}),
    ({"birth_date": "1990-05-02"}, {"birth_date": date(1990, 5, 2), "birth_year": 1990}),
    ({"birth_date": "02/05/1990"}, {"birth_date": date(1990, 5, 2), "birth_year": 1990}),
    ({"travel_date": (clock.today() + timedelta(days=14)).isoformat()},
     {"travel_date": clock.today() + timedelta(days=14)}),
    ({"test_kind": "rapid", "test_date": clock.today().isoformat()},
     {"test_kind": "rapid", "test_date": clock.today()}),
    ({"on_behalf": "y", "on_behalf_by": "Nguyễn Văn Con"}, {"on_behalf": True, "on_behalf_by": "Nguyễn Văn Con"}),
    ({"dest_province": "", "origin_province": ""},  # the commune alone tells its province
     {"dest_commune_code": "25210", "origin_commune_code": "26743", "origin_province_code": "79"}),
    ({"full_name": "Đặng Thị Mai-Anh"}, {"full_name": "Đặng Thị Mai-Anh"}),
])
def test_accepted_variants(app, client, overrides, stored):
    """Accepted, and stored in the one normalised form the checkpoint and the commune search on."""
    response = post(client, valid_form(**overrides))
    assert response.status_code == 200, errors_of(response)
    decl = db.session.scalar(select(Declaration))
    assert {field: getattr(decl, field) for field in stored} == stored


def test_double_submission_creates_one_declaration(app, client):
    first = post(client, valid_form())
    second = post(client, valid_form())
    assert first.status_code == second.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 1
    assert "Khai báo này đã được gửi trước đó" in second.get_data(as_text=True)
    code = db.session.scalar(select(Declaration.code))
    assert code in second.get_data(as_text=True)


def test_same_form_key_for_another_person_is_a_stale_form(app, client):
    post(client, valid_form())
    response = post(client, valid_form(id_number="079190999999", full_name="Lê Văn Tám"))
    assert response.status_code == 422
    assert "Tờ khai này đã được gửi trước đó" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 1
    # The form comes back with a fresh key, so sending it again makes the second declaration.
    nonce = inputs(response.get_data(as_text=True))["nonce"]["value"]
    assert nonce != "0123456789abcdef"
    again = post(client, valid_form(id_number="079190999999", full_name="Lê Văn Tám", nonce=nonce))
    assert again.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 2


def test_without_a_valid_form_key_each_submission_is_new(app, client):
    post(client, valid_form(nonce="not-hex"))
    post(client, valid_form(nonce=""))
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 2


def test_create_is_idempotent_without_http(app):
    values = {"full_name": "Lê Văn Tám", "id_type": "cmnd", "id_number": "123456789", "birth_year": 1980,
              "birth_date": None, "sex": "nam", "phone": "0987654321", "nationality": "Việt Nam",
              "contact_commune_code": "25210", "contact_street": "Ấp 4", "origin_province_code": "79",
              "origin_commune_code": "26743", "origin_street": "", "dest_commune_code": "25210",
              "dest_street": "Ấp 4", "travel_date": clock.today(), "vehicle_type": "xe_dap", "vehicle_plate": "",
              "vehicle_seat": "", "places_visited": "", "symptoms": [], "exposure_case": False,
              "exposure_market": False, "exposure_care": False, "vaccine_doses": 0, "last_dose_date": None,
              "recovered_date": None, "test_kind": "", "test_date": None, "on_behalf": False,
              "on_behalf_by": "", "consent_version": "2026-01"}
    a, created_a = ops.create_declaration(values, nonce="00000000000000aa")
    b, created_b = ops.create_declaration(values, nonce="00000000000000aa")
    db.session.commit()
    assert (created_a, created_b) == (True, False) and a.id == b.id


def test_declaring_is_rate_limited_per_ip(app, client):
    app.config["KIEMDICH_DECLARATION_RATE"] = "3 per minute"
    token = csrf_token(client, "/khai-bao")
    statuses = [client.post("/khai-bao", data={"csrf_token": token}, headers=HX).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert client.get("/khai-bao").status_code == 200  # reading the form is not limited
    other_ip = client.post("/khai-bao", data={"csrf_token": token}, headers=HX,
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_ip.status_code == 422


def test_privacy_notice_is_shown_and_its_version_stored(app, client):
    db.session.add(PrivacyNotice(version="2026-02", text="Thông báo mới: mục đích phòng, chống dịch.",
                                 published_at=clock.utcnow() + timedelta(seconds=1)))
    db.session.commit()
    page = client.get("/khai-bao").get_data(as_text=True)
    assert "phiên bản 2026-02" in page and "Thông báo mới: mục đích phòng, chống dịch." in page
    assert inputs(page)["consent_version"]["value"] == "2026-02"
    stale = post(client, valid_form(consent_version="2026-01"))
    assert stale.status_code == 422
    assert "Thông báo xử lý dữ liệu cá nhân đã thay đổi" in errors_of(stale)["consent"][0]
    assert post(client, valid_form(consent_version="2026-02")).status_code == 200
    assert db.session.scalar(select(Declaration.consent_version)) == "2026-02"


def test_form_defaults_and_phone_friendly_inputs(app, client):
    page = client.get("/khai-bao").get_data(as_text=True)
    found = inputs(page)
    assert found["travel_date"]["type"] == "date" and found["travel_date"]["value"] == clock.today().isoformat()
    assert found["nationality"]["value"] == "Việt Nam"
    assert found["id_number"]["inputmode"] == "numeric" and found["birth_year"]["inputmode"] == "numeric"
    assert found["phone"]["type"] == "tel" and found["phone"]["inputmode"] == "tel"
    # Typed as on the vaccination certificate, with the number pad (issue 11: fewer taps than a calendar).
    assert found["last_dose_date"]["inputmode"] == "numeric" and found["last_dose_date"]["placeholder"] == "dd/mm/yyyy"
    assert re.fullmatch(r"[0-9a-f]{16}", found["nonce"]["value"])
    assert '<option value="75" selected>' in page  # destination province: the home province
    for name in ("contact", "origin", "dest"):
        assert f'id="{name}-picker"' in page
    assert "<script>" not in page and " style=" not in page


@pytest.mark.parametrize("utc_hour,local_date", [(16, "2021-10-20"), (17, "2021-10-21")])
def test_today_is_the_local_date_at_2330_and_0030(app, client, monkeypatch, utc_hour, local_date):
    """23:30 and 00:30 in Viet Nam are 16:30 and 17:30 UTC of the same UTC day."""
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2021, 10, 20, utc_hour, 30, tzinfo=timezone.utc))
    page = client.get("/khai-bao").get_data(as_text=True)
    assert inputs(page)["travel_date"]["value"] == local_date


def test_validity_is_72_hours_from_declaring_or_from_the_local_start_of_the_trip():
    at_2330 = datetime(2021, 10, 20, 16, 30, tzinfo=timezone.utc)  # 23:30 local on the 20th
    assert valid_until(at_2330, at_2330.date(), 72) == at_2330 + timedelta(hours=72)
    ahead = valid_until(at_2330, datetime(2021, 10, 22).date(), 72)
    assert clock.local(ahead).isoformat() == "2021-10-25T00:00:00+07:00"
    at_0030 = datetime(2021, 10, 20, 17, 30, tzinfo=timezone.utc)  # 00:30 local on the 21st
    assert valid_until(at_0030, datetime(2021, 10, 21).date(), 72) == at_0030 + timedelta(hours=72)


def test_validity_follows_the_setting(app, client):
    from kiemdich.models import Setting

    db.session.add(Setting(key="token_valid_hours", value="24"))
    db.session.commit()
    post(client, valid_form())
    decl = db.session.scalar(select(Declaration))
    assert decl.valid_until - decl.created_at == timedelta(hours=24)


# Checkpoint URL, staff-assisted declaring, self check-in -------------------------------------

def test_checkpoint_url_fills_the_checkpoint(app, client):
    cp = CheckpointFactory(name="Chốt QL14 – Đắk Nhau")
    db.session.commit()
    page = client.get(f"/c/{cp.code}").get_data(as_text=True)
    assert "Tại chốt: Chốt QL14 – Đắk Nhau" in page and 'id="kd-checkin"' in page
    assert client.get(f"/c/{cp.code.lower()}").headers["Location"].endswith(f"/c/{cp.code}")
    assert post(client, valid_form(), path=f"/c/{cp.code}").status_code == 200
    assert db.session.scalar(select(Declaration.checkpoint_id)) == cp.id


def test_old_and_closed_and_unknown_checkpoint_codes(app, client):
    retired = RetiredCheckpointCodeFactory()
    closed = CheckpointFactory(active=False)
    db.session.commit()
    old = client.get(f"/c/{retired.code}")
    assert old.status_code == 410 and "Mã QR này đã được thay" in old.get_data(as_text=True)
    shut = client.get(f"/c/{closed.code}")
    assert shut.status_code == 410 and "Chốt này đã ngừng hoạt động" in shut.get_data(as_text=True)
    assert client.get("/c/ZZZZZZZZ").status_code == 404


def test_checkpoint_staff_declares_on_behalf_and_is_exempt_from_the_limit(app, client, auth, users):
    app.config["KIEMDICH_DECLARATION_RATE"] = "1 per minute"
    auth.login("chot1")
    cp = users["checkpoint"].checkpoints[0].checkpoint
    page = client.get(f"/c/{cp.code}").get_data(as_text=True)
    assert "Bạn đang khai hộ cho người không có điện thoại" in page
    assert 'id="kd-checkin"' not in page and 'name="on_behalf_by"' not in page
    first = post(client, valid_form(), path=f"/c/{cp.code}")
    second = post(client, valid_form(nonce="00000000000000bb", id_number="079190000001"), path=f"/c/{cp.code}")
    assert first.status_code == second.status_code == 200
    decl = db.session.scalar(select(Declaration).order_by(Declaration.id))
    assert decl.on_behalf and decl.source == "staff" and decl.declared_by_id == users["checkpoint"].id
    assert decl.on_behalf_by == users["checkpoint"].full_name
    body = first.get_data(as_text=True)
    assert "data-kd-remember" not in body  # the staff phone does not keep the traveller's link
    assert "In phiếu" in body and "Khai hộ người tiếp theo" in body
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "declaration.create_on_behalf")).all()
    assert len(events) == 2 and events[0].user_id == users["checkpoint"].id


def _declared(checkpoint=None, **kw):
    decl = DeclarationFactory(**kw)
    db.session.commit()
    return decl, ops.token_for(decl)


def test_self_checkin_records_one_passage_awaiting_staff(app, client):
    cp = CheckpointFactory(commune_code="25432")
    with app.test_request_context():
        decl, token = _declared()
    token_csrf = csrf_token(client, f"/c/{cp.code}")
    data = {"csrf_token": token_csrf, "token": token, "client_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    first = client.post(f"/c/{cp.code}/co-mat", data=data, headers=HX)
    again = client.post(f"/c/{cp.code}/co-mat", data=dict(data, client_uuid=""), headers=HX)
    assert first.status_code == again.status_code == 200
    assert "Đã ghi nhận bạn có mặt" in first.get_data(as_text=True)
    passages = db.session.scalars(select(Passage)).all()
    assert len(passages) == 1
    p = passages[0]
    assert (p.kind, p.decision, p.user_id, p.checkpoint_id, p.declaration_id) == ("self_checkin", None, None, cp.id, decl.id)
    assert p.client_uuid == "0f8fad5b-d9cb-469f-a165-70867728950e" and not p.transit


def test_self_checkin_refuses_expired_forged_and_closed(app, client):
    cp = CheckpointFactory()
    closed = CheckpointFactory(active=False)
    with app.test_request_context():
        _decl, expired = _declared(valid_until=clock.utcnow() - timedelta(minutes=1))
        _decl2, good = _declared()
    raw = bytearray(tokens._unb64(good))
    raw[30] ^= 1
    forged = tokens._b64(bytes(raw))
    csrf = csrf_token(client, f"/c/{cp.code}")
    r = client.post(f"/c/{cp.code}/co-mat", data={"csrf_token": csrf, "token": expired}, headers=HX)
    assert r.status_code == 422 and "hết hiệu lực qua chốt" in r.get_data(as_text=True)
    r = client.post(f"/c/{cp.code}/co-mat", data={"csrf_token": csrf, "token": forged}, headers=HX)
    assert r.status_code == 422 and "Không đọc được khai báo đã lưu" in r.get_data(as_text=True)
    r = client.post(f"/c/{closed.code}/co-mat", data={"csrf_token": csrf, "token": good}, headers=HX)
    assert r.status_code == 410
    r = client.post(f"/c/{cp.code}/co-mat", data={"token": good}, headers=HX)
    assert r.status_code == 400  # no CSRF token
    assert db.session.scalar(select(func.count()).select_from(Passage)) == 0


def test_self_checkin_to_a_destination_outside_the_province_is_transit(app, client):
    cp = CheckpointFactory()
    with app.test_request_context():
        _decl, token = _declared(dest_commune_code="26743")
    client.post(f"/c/{cp.code}/co-mat", data={"csrf_token": csrf_token(client, f"/c/{cp.code}"), "token": token},
                headers=HX)
    assert db.session.scalar(select(Passage.transit)) is True


def test_error_fragment_is_compressed_and_small(app, client):
    """Flask-Compress leaves 4xx alone; the app compresses them too (the 5 KB fragment budget)."""
    import brotli

    data = dict(valid_form(phone="0123"), csrf_token=csrf_token(client, "/khai-bao"))
    response = client.post("/khai-bao", data=data, headers=dict(HX, **{"Accept-Encoding": "br"}))
    assert response.status_code == 422 and response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) <= 5 * 1024
    assert "Số điện thoại di động không hợp lệ" in brotli.decompress(response.data).decode()
    # A picker whose commune was accepted lists only that commune; the others list their province.
    html = brotli.decompress(response.data).decode()
    dest_options = re.search(r'<select id="dest" name="dest"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="(\d+)"', dest_options) == ["25210"]


def test_concurrent_double_submission_creates_one_declaration(app):
    """Two requests with the same form key at the same moment (a double tap on a slow line):
    the unique token id lets one insert win; the other answers with the same declaration."""
    import threading

    barrier = threading.Barrier(2)
    results = []

    def send():
        try:
            with app.app_context():  # each thread: its own context, session and connection
                _send()
        except Exception as err:  # surfaced by the assertion below
            results.append((repr(err), ""))

    def _send():
        client = app.test_client()
        data = dict(valid_form(), csrf_token=csrf_token(client, "/khai-bao"))
        barrier.wait()
        response = client.post("/khai-bao", data=data, headers=HX)
        results.append((response.status_code, re.search(r'class="code">([0-9A-Z]{8})<', response.get_data(as_text=True)).group(1)))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    db.session.rollback()
    assert [r[0] for r in results] == [200, 200]
    assert results[0][1] == results[1][1]
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 1


def test_self_checkin_with_another_persons_key_is_recorded_under_a_new_one(app, client):
    cp = CheckpointFactory()
    with app.test_request_context():
        _first, first_token = _declared()
        _second, second_token = _declared()
    key = "0f8fad5b-d9cb-469f-a165-70867728950e"
    csrf = csrf_token(client, f"/c/{cp.code}")
    for token in (first_token, second_token):
        r = client.post(f"/c/{cp.code}/co-mat", data={"csrf_token": csrf, "token": token, "client_uuid": key},
                        headers=HX)
        assert r.status_code == 200
    passages = db.session.scalars(select(Passage).order_by(Passage.id)).all()
    assert len(passages) == 2 and passages[0].client_uuid == key and passages[1].client_uuid != key


def test_blank_form_is_drawn_once_but_each_visitor_gets_their_own_keys(app, client):
    """The blank form comes from a per-process copy (issue 14), yet every GET carries a fresh
    one-time key and the visitor's own CSRF token, so the form it shows is accepted once."""
    cp = CheckpointFactory(name="Chốt ĐT741")
    db.session.commit()
    other = app.test_client()
    first = client.get(f"/c/{cp.code}").get_data(as_text=True)
    second = other.get(f"/c/{cp.code}").get_data(as_text=True)
    assert "kd-blank" not in first + second
    assert inputs(first)["nonce"]["value"] != inputs(second)["nonce"]["value"]
    assert inputs(first)["csrf_token"]["value"] != inputs(second)["csrf_token"]["value"]
    assert first.replace(inputs(first)["csrf_token"]["value"], "").count('"X-CSRFToken"') == 1
    # The copy-served page is a working form: its token and key are accepted, once.
    fields = inputs(second)
    data = valid_form(nonce=fields["nonce"]["value"], csrf_token=fields["csrf_token"]["value"])
    assert other.post(f"/c/{cp.code}", data=data, headers=HX).status_code == 200
    assert other.post(f"/c/{cp.code}", data=data, headers=HX).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 1
    # What the page shows still follows the checkpoint and the language.
    cp.name = "Chốt ĐT741 – Phú Riềng"
    db.session.commit()
    assert "Tại chốt: Chốt ĐT741 – Phú Riềng" in client.get(f"/c/{cp.code}").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert "At checkpoint: Chốt ĐT741 – Phú Riềng" in client.get(f"/c/{cp.code}").get_data(as_text=True)
