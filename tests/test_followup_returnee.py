"""The returnee at home, from the personal status link: one-tap arrival, daily self-declaration,
plan, today's task, days left, the station's phone; and the clock at 23:30 / 00:30 local."""
import json
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.followup import operations as ops
from kiemdich.models import Arrival, ArrivalEvent, AuditEvent, HealthCheck, Setting
from tests.factories import ArrivalFactory, DeclarationFactory, HealthCheckFactory, PassageFactory

STATION = (11.5350, 106.8830)  # where the officer saved the health station
NEAR = (11.5400, 106.8900)  # under 1 km away
FAR = (10.7760, 106.7000)  # Hồ Chí Minh City, ~85 km


def returnee(status="expected", *, start=None, days=7, after=0, tests=(1,), **kwargs):
    start = start or clock.today()
    end = start + timedelta(days=days - 1)
    passage = PassageFactory(declaration__full_name="Hoàng Thị Thu Hà", declaration__phone="0987001122")
    arrival = ArrivalFactory(declaration=passage.declaration, passage=passage, status=status, plan_start=start,
                             plan_end=end, self_monitoring_until=end + timedelta(days=after) if after else None,
                             test_days=list(tests), **kwargs)
    db.session.commit()
    return arrival, token_for(arrival.declaration)


def fresh(arrival):
    db.session.expire_all()
    return db.session.get(Arrival, arrival.id)


def count(model, **where):
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.scalar(stmt)


def test_one_tap_arrival_without_position(client):
    arrival, token = returnee()
    response = client.post("/q/den-noi", data={"token": token}, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Trạm y tế đã biết bạn đã đến nơi" in html
    assert "<html" not in html and "Khai báo sức khỏe hôm nay" in html  # today's task comes next
    arrival = fresh(arrival)
    assert (arrival.status, arrival.confirmed_how, arrival.near_declared_commune) == ("monitoring", "self", None)
    assert arrival.confirmed_by_id is None and arrival.arrived_at is not None
    again = client.post("/q/den-noi", data={"token": token}, headers={"HX-Request": "true"})
    assert again.status_code == 200 and "đã được ghi nhận trước đó" in again.get_data(as_text=True)
    assert count(ArrivalEvent, arrival_id=arrival.id, action="confirmed") == 1


@pytest.mark.parametrize("position,station,near", [(NEAR, True, True), (FAR, True, False), (NEAR, False, None)])
def test_position_is_kept_only_as_near_yes_or_no(app, client, users, position, station, near):
    arrival, token = returnee()
    if station:
        ops.set_station("25210", phone="0271 3879 115", lat=STATION[0], lon=STATION[1], user=users["commune"])
        db.session.commit()
    lat, lon = (f"{v:.5f}" for v in position)
    response = client.post("/q/den-noi", data={"token": token, "lat": lat, "lon": lon, "share_position": "1"})
    assert response.status_code == 200
    assert fresh(arrival).near_declared_commune is near
    # the coordinates themselves are nowhere in the database
    stored = json.dumps([[e.data, e.reason] for e in db.session.scalars(select(ArrivalEvent))]
                        + [[a.before, a.after, a.detail] for a in db.session.scalars(select(AuditEvent))], default=str)
    assert lat not in stored and lon not in stored and lat[:5] not in stored


def test_daily_self_declaration_flags_red_and_is_stored_once(client, auth, users):
    arrival, token = returnee(status="monitoring", arrived_at=clock.utcnow() - timedelta(days=1))
    key = str(uuid.uuid4())
    form = {"token": token, "client_uuid": key, "symptoms": ["sot", "ho"], "temperature": "38,2"}
    first = client.post("/q/suc-khoe", data=form, headers={"HX-Request": "true"})
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "khai báo sức khỏe hôm nay đã được ghi nhận" in html
    assert "gọi ngay cho trạm y tế" in html and "Đã khai báo sức khỏe hôm nay" in html
    replay = client.post("/q/suc-khoe", data=form, headers={"HX-Request": "true", "Idempotency-Key": key})
    assert replay.status_code == 200 and count(HealthCheck, arrival_id=arrival.id) == 1
    check = db.session.scalar(select(HealthCheck))
    assert (check.source, check.symptoms, str(check.temperature), check.user_id) == ("self", ["ho", "sot"], "38.2", None)
    assert fresh(arrival).flagged
    # the officer's home shows the person first, in red
    auth.login("xa1")
    home = client.get("/xa").get_data(as_text=True)
    assert "1 người có triệu chứng" in home
    first_row = home.split('<ul class="people">')[1].split("</li>")[0]
    assert 'class="red"' in first_row and "Hoàng Thị Thu Hà" in first_row


def test_a_bad_self_declaration_is_refused_with_a_reason(client):
    arrival, token = returnee(status="monitoring")
    response = client.post("/q/suc-khoe", data={"token": token, "temperature": "52"})
    assert response.status_code == 422
    assert "Nhiệt độ" in unquote(response.headers["X-Outbox-Reason"])
    assert count(HealthCheck) == 0


def test_a_forged_or_finished_link_writes_nothing(client):
    arrival, token = returnee()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.post("/q/den-noi", data={"token": forged})
    assert response.status_code == 422 and "X-Outbox-Reason" in response.headers
    assert fresh(arrival).status == "expected"
    arrival = fresh(arrival)
    arrival.status, arrival.ended_at = "completed", clock.utcnow() - timedelta(days=60)
    arrival.plan_end = clock.today() - timedelta(days=60)
    db.session.commit()
    response = client.post("/q/suc-khoe", data={"token": token, "temperature": "36.5"})
    assert response.status_code == 422 and count(HealthCheck) == 0
    assert unquote(response.headers["X-Outbox-Reason"]) == "Việc theo dõi chuyến đi này đã kết thúc."
    events = count(ArrivalEvent)
    response = client.post("/q/den-noi", data={"token": token})  # the link is over: not "already recorded"
    assert response.status_code == 422
    assert unquote(response.headers["X-Outbox-Reason"]) == "Việc theo dõi chuyến đi này đã kết thúc."
    assert count(ArrivalEvent) == events and fresh(arrival).status == "completed"


def test_status_page_shows_plan_task_days_left_and_station_phone(client, users):
    arrival, token = returnee(status="monitoring", start=clock.today() - timedelta(days=2), days=7, after=7,
                              tests=(1, 7), arrived_at=clock.utcnow() - timedelta(days=2), measure="home_quarantine")
    db.session.add(Setting(key="station:25210", value=json.dumps({"phone": "0271 3879 115"})))
    db.session.commit()
    html = client.post("/q/trang-thai", data={"token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.count("Theo dõi: ngày 3 / 14") == 2  # the traveller's timeline and the panel count alike
    assert "Cách ly tại nhà" in html and "sau đó tự theo dõi đến" in html
    assert "Còn 11 ngày" in html and "Việc cần làm hôm nay" in html and "Gửi khai báo hôm nay" in html
    assert 'href="tel:02713879115"' in html and "Trạm y tế Phường Đồng Xoài" in html
    HealthCheckFactory(arrival=arrival, check_date=clock.today(), source="self")
    db.session.commit()
    html = client.post("/q/trang-thai", data={"token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Đã khai báo sức khỏe hôm nay" in html and "Gửi khai báo hôm nay" not in html


def test_without_a_station_phone_the_hotline_is_shown(client):
    arrival, token = returnee()
    html = client.post("/q/trang-thai", data={"token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Tôi đã đến nơi" in html and 'href="tel:19009095"' in html


def test_officer_saves_the_station(client, auth, users):
    auth.login("xa1")
    from tests.conftest import csrf_token
    token = csrf_token(client, "/xa/tram")
    response = client.post("/xa/tram", data={"csrf_token": token, "commune": "25210", "phone": "0271 3879 115",
                                             "lat": "11.535", "lon": "106.883", "share_position": "1"})
    assert response.status_code == 200 and ops.station("25210") == ops.Station("0271 3879 115", 11.535, 106.883)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "station.update")).area_code == "25210"
    refused = client.post("/xa/tram", data={"csrf_token": token, "commune": "25417", "phone": "1"})
    assert refused.status_code == 403
    bad = client.post("/xa/tram", data={"csrf_token": token, "commune": "25210", "phone": "gọi tôi"})
    assert bad.status_code == 422 and ops.station("25210").phone == "0271 3879 115"


# The clock pinned at 23:30 and 00:30 in Đồng Nai --------------------------------------------------

AT_2330 = datetime(2021, 11, 22, 16, 30, tzinfo=timezone.utc)
AT_0030 = datetime(2021, 11, 22, 17, 30, tzinfo=timezone.utc)


def test_due_today_and_day_x_turn_over_at_local_midnight(app, client, auth, users, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: AT_2330)
    arrival, token = returnee(status="monitoring", start=clock.today() - timedelta(days=2),
                              arrived_at=AT_2330 - timedelta(days=2))  # started 20/11
    # 23:30 on 22/11: the returnee declares; that is today's check
    assert client.post("/q/suc-khoe", data={"token": token, "temperature": "36.7"}).status_code == 200
    check = db.session.scalar(select(HealthCheck))
    assert check.check_date.isoformat() == "2021-11-22"
    auth.login("xa1")
    due = client.get("/xa/ds/due/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Hoàng Thị Thu Hà" not in due
    page = client.get("/xa/ds/monitoring/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Ngày 3/7" in page and "đã kiểm tra" in page
    # 00:30 on 23/11: a new day, due again, day 4
    monkeypatch.setattr(clock, "utcnow", lambda: AT_0030)
    due = client.get("/xa/ds/due/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Hoàng Thị Thu Hà" in due and "Ngày 4/7" in due
    status = client.post("/q/trang-thai", data={"token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Gửi khai báo hôm nay" in status and "Còn 3 ngày" in status
