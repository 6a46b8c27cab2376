"""Epidemic levels and monitoring rules as data: editors, history, effective dates, preview, publishing."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from kiemdich.clock import LOCAL, today
from kiemdich.extensions import db
from kiemdich.followup.operations import route_arrival
from kiemdich.models import AreaLevel, AuditEvent, MonitoringRule
from kiemdich.rules import operations as ops
from kiemdich.rules.plan import compute_plan, origin_level
from tests.conftest import csrf_token
from tests.factories import DeclarationFactory
from tests.factories_supervision import ONE, supervisor


def events(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def post(client, path: str, data: dict, page: str | None = None, **kwargs):
    return client.post(path, data=data | {"csrf_token": csrf_token(client, page or path)}, **kwargs)


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), LOCAL).astimezone(timezone.utc)


# --- Levels -----------------------------------------------------------------------------------------

def test_level_editor_keeps_the_history_and_audits_each_change(client, auth, users):
    auth.login("super1")
    response = post(client, "/tinh/cap-do", {"area_province": "79", "area": "", "level": "4",
                                             "effective_from": "2021-10-01", "note": "CV 1234"})
    assert response.status_code == 302 and response.location == "/tinh/cap-do"
    response = post(client, "/tinh/cap-do", {"area_province": "79", "area": "", "level": "2",
                                             "effective_from": "2021-11-15", "effective_to": ""})
    assert response.status_code == 302
    entries = db.session.scalars(select(AreaLevel).order_by(AreaLevel.id)).all()
    assert [(e.area_code, e.level, e.effective_from) for e in entries] == [
        ("79", 4, date(2021, 10, 1)), ("79", 2, date(2021, 11, 15))]
    assert entries[0].set_by.username == "super1" and entries[0].note == "CV 1234"
    assert len(events("level.set")) == 2
    assert events("level.set")[0].after == {"area": "79", "level": 4, "from": "2021-10-01", "to": None,
                                            "note": "CV 1234"}
    html = client.get("/tinh/cap-do").get_data(as_text=True)
    assert "Thành phố Hồ Chí Minh" in html and "2 lần thay đổi" in html
    assert "Cấp 2 – nguy cơ trung bình" in html and "Cấp 4 – nguy cơ rất cao" in html


def test_a_commune_level_and_a_lockdown_with_an_end_date(client, auth, users):
    auth.login("super1")
    assert post(client, "/tinh/cap-do", {"area_province": "79", "area": "26526", "level": "5",
                                         "effective_from": "2021-11-01", "effective_to": "2021-11-14"}).status_code == 302
    AreaLevelEntry = db.session.scalar(select(AreaLevel))
    assert (AreaLevelEntry.area_code, AreaLevelEntry.level) == ("26526", 5)
    assert origin_level("79", "26526", date(2021, 11, 14)) == 5
    assert origin_level("79", "26526", date(2021, 11, 15)) == 1  # the lockdown ended


@pytest.mark.parametrize("form,message", [
    ({"area_province": "", "area": "", "level": "4", "effective_from": "2021-10-01"}, "Chọn tỉnh, thành phố hoặc xã, phường."),
    ({"area_province": "79", "area": "", "level": "4", "effective_from": "2021-10-09", "effective_to": "2021-10-01"},
     "Ngày kết thúc trước ngày bắt đầu."),
    ({"area_province": "79", "area": "", "level": "9", "effective_from": "2021-10-01"}, "Not a valid choice"),
    ({"area_province": "79", "area": "", "level": "4", "effective_from": ""}, "Hãy chọn ngày."),
])
def test_level_errors_change_nothing(client, auth, users, form, message):
    auth.login("super1")
    response = post(client, "/tinh/cap-do", form, page="/tinh/cap-do")
    assert response.status_code == 422
    if message != "Not a valid choice":
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AreaLevel)) == 0
    assert events("level.set") == []


def test_a_level_change_applies_from_its_date_and_not_before(app, users):
    change = date(2021, 11, 15)
    ops.set_level("79", 4, change, by=users["supervisor"])
    ops.set_level("79", 2, date(2021, 10, 1), by=users["supervisor"])
    db.session.commit()
    partly = dict(vaccine_doses=1, last_dose_date=date(2021, 9, 1), origin_province_code="79",
                  origin_commune_code="26526", dest_commune_code=ONE)
    before = route_arrival(DeclarationFactory(**partly), at=local_noon(change - timedelta(days=1)))
    on = route_arrival(DeclarationFactory(**partly), at=local_noon(change))
    # 00:30 local on the day of the change is already that day (17:30 UTC the day before)
    early = route_arrival(DeclarationFactory(**partly),
                          at=datetime.combine(change, time(0, 30), LOCAL).astimezone(timezone.utc))
    db.session.commit()
    assert before.measure == "declaration_only"  # level 2 the day before
    assert (on.measure, on.plan_end, on.test_days) == ("home_quarantine", change + timedelta(days=6), [1, 7])
    assert early.measure == "home_quarantine" and early.plan_start == change


def test_only_province_wide_supervisors_change_levels_and_rules(client, auth, users):
    supervisor("sup_one", ONE)
    auth.login("sup_one")
    assert client.get("/tinh/cap-do").status_code == 200
    assert "Chỉ cán bộ giám sát toàn tỉnh" in client.get("/tinh/cap-do").get_data(as_text=True)
    token = csrf_token(client, "/tinh/quy-tac")
    assert client.post("/tinh/cap-do", data={"csrf_token": token, "area_province": "79", "level": "4",
                                             "effective_from": "2021-10-01"}).status_code == 403
    assert client.post("/tinh/quy-tac/1/sao-chep", data={"csrf_token": token}).status_code == 403
    assert "Sao chép thành bản nháp mới" not in client.get("/tinh/quy-tac/1").get_data(as_text=True)
    auth.logout()
    for username in ("admin1", "chot1", "xa1"):
        auth.login(username)
        assert client.get("/tinh/cap-do").status_code == 403
        assert client.get("/tinh/quy-tac").status_code == 403
        auth.logout()


# --- Rules --------------------------------------------------------------------------------------

def _line(version: int, level: int, vaccination: str) -> MonitoringRule:
    return db.session.scalar(select(MonitoringRule).where(
        MonitoringRule.version == version, MonitoringRule.origin_level == level,
        MonitoringRule.vaccination == vaccination))


def _copy(client) -> int:
    response = post(client, "/tinh/quy-tac/1/sao-chep", {}, page="/tinh/quy-tac/1")
    assert response.status_code == 302
    return int(response.location.rstrip("/").rsplit("/", 1)[1])


def test_copy_makes_a_full_draft_and_edits_are_audited(client, auth, users):
    auth.login("super1")
    draft = _copy(client)
    assert draft == 2
    rows = ops.lines(2)
    assert len(rows) == 20 and not any(r.published for r in rows)
    assert len(events("rule.copy")) == 1 and events("rule.copy")[0].after == {"version": 2, "copied_from": 1}
    line = _line(2, 4, "partial")
    response = post(client, f"/tinh/quy-tac/2/dong/{line.id}",
                    {"measure": "home_quarantine", "days": "10", "after": "4", "test_days": "1, 5,10",
                     "needs_approval": "y", "instruction_code": "6"}, page="/tinh/quy-tac/2",
                    headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Cách ly tại nhà 10 ngày" in response.get_data(as_text=True)
    db.session.expire_all()
    line = _line(2, 4, "partial")
    assert (line.days, line.self_monitoring_days_after, line.test_days, line.needs_approval, line.instruction_code) == \
        (10, 4, [1, 5, 10], True, 6)
    edit = events("rule.edit")
    assert len(edit) == 1 and edit[0].before["days"] == 7 and edit[0].after["days"] == 10
    assert _line(1, 4, "partial").days == 7  # the published version is untouched


def test_rule_line_errors_change_nothing(client, auth, users):
    auth.login("super1")
    _copy(client)
    line = _line(2, 4, "partial")
    for bad in ({"test_days": "1, x"}, {"test_days": "0"}, {"days": "0"}, {"days": "99"}):
        data = {"measure": "home_quarantine", "days": "7", "after": "7", "test_days": "1, 7",
                "instruction_code": "7"} | bad
        response = post(client, f"/tinh/quy-tac/2/dong/{line.id}", data, page="/tinh/quy-tac/2")
        assert response.status_code == 422, bad
        assert 'class="error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert _line(2, 4, "partial").days == 7 and _line(2, 4, "partial").test_days == [1, 7]
    assert events("rule.edit") == []


@pytest.mark.parametrize("level,doses,last_dose_days,recovered_days", [
    (4, 1, 60, None), (4, 2, 60, None), (4, 0, None, None), (4, 0, None, 30), (3, 2, 5, None), (1, 0, None, None),
])
def test_preview_is_compute_plan_of_the_draft(client, auth, users, level, doses, last_dose_days, recovered_days):
    auth.login("super1")
    _copy(client)
    line = _line(2, 4, "partial")
    post(client, f"/tinh/quy-tac/2/dong/{line.id}", {"measure": "home_quarantine", "days": "10", "after": "4",
                                                     "test_days": "1, 5, 10", "instruction_code": "6"},
         page="/tinh/quy-tac/2")
    arrival = date(2021, 11, 20)
    params = {"level": level, "doses": doses, "arrival": arrival.isoformat()}
    if last_dose_days is not None:
        params["last_dose"] = (arrival - timedelta(days=last_dose_days)).isoformat()
    if recovered_days is not None:
        params["recovered"] = (arrival - timedelta(days=recovered_days)).isoformat()
    response = client.get("/tinh/quy-tac/2/xem-truoc", query_string=params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and len(html.encode()) < 5 * 1024
    from kiemdich.rules.plan import vaccination_status
    vacc = vaccination_status(doses, params.get("last_dose") and date.fromisoformat(params["last_dose"]),
                              params.get("recovered") and date.fromisoformat(params["recovered"]), arrival)
    plan = compute_plan(level, vacc, arrival, version=2)
    draft_box = html.split('class="plan other"')[0]
    for d in plan.test_dates():
        assert d.strftime("%d/%m/%Y") in draft_box
    if plan.days:
        assert f"{plan.start:%d/%m/%Y} – {plan.end:%d/%m/%Y}" in draft_box
    if plan.self_monitoring_until:
        assert plan.self_monitoring_until.strftime("%d/%m/%Y") in draft_box
    if plan.instruction_code:
        assert f"{plan.instruction_code} – " in draft_box
    if (level, vacc) == (4, "partial"):
        assert "Cách ly tại nhà · 10 ngày" in draft_box
        assert "Theo phiên bản 1, đang áp dụng vào ngày đó" in html  # and the plan in force, for comparison
        assert "Cách ly tại nhà · 7 ngày" in html.split('class="plan other"')[1]


def test_preview_errors_are_shown(client, auth, users):
    auth.login("super1")
    response = client.get("/tinh/quy-tac/1/xem-truoc", query_string={"level": "4", "doses": "-1", "arrival": ""},
                          headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Từ 0 đến 10." in response.get_data(as_text=True)


def test_a_published_version_does_not_change_existing_arrivals(client, auth, users):
    ops.set_level("79", 4, date(2021, 1, 1), by=users["supervisor"])
    db.session.commit()
    partly = dict(vaccine_doses=1, last_dose_date=today() - timedelta(days=60), origin_province_code="79",
                  origin_commune_code="26526", dest_commune_code=ONE)
    old = route_arrival(DeclarationFactory(**partly), at=local_noon(today() - timedelta(days=1)))
    db.session.commit()
    assert (old.rule_version, old.measure) == (1, "home_quarantine")
    kept = (old.rule_id, old.plan_start, old.plan_end, list(old.test_days), old.self_monitoring_until)

    auth.login("super1")
    _copy(client)
    line = _line(2, 4, "partial")
    post(client, f"/tinh/quy-tac/2/dong/{line.id}", {"measure": "home_quarantine", "days": "10", "after": "4",
                                                     "test_days": "1, 10", "instruction_code": "6"},
         page="/tinh/quy-tac/2")
    response = post(client, "/tinh/quy-tac/2/cong-bo", {"effective_from": today().isoformat()}, page="/tinh/quy-tac/2")
    assert response.status_code == 302
    assert len(events("rule.publish")) == 1
    db.session.expire_all()
    old = db.session.get(type(old), old.id)
    assert old.rule_version == 1
    assert (old.rule_id, old.plan_start, old.plan_end, list(old.test_days), old.self_monitoring_until) == kept

    new = route_arrival(DeclarationFactory(**partly), at=local_noon(today()))
    db.session.commit()
    assert (new.rule_version, new.plan_end, new.test_days) == (2, today() + timedelta(days=9), [1, 10])
    # Published: nothing in it can change any more.
    assert client.get(f"/tinh/quy-tac/2/dong/{line.id}/sua").status_code == 404
    response = post(client, f"/tinh/quy-tac/2/dong/{line.id}", {"measure": "self_monitoring", "days": "3",
                                                                "after": "0", "test_days": ""}, page="/tinh/quy-tac/2")
    assert response.status_code == 422
    assert "Phiên bản đã công bố không được sửa" in response.get_data(as_text=True)
    assert response.status_code == 422
    db.session.expire_all()
    assert _line(2, 4, "partial").days == 10


def test_rules_pages_show_states(client, auth, users):
    auth.login("super1")
    _copy(client)
    html = client.get("/tinh/quy-tac").get_data(as_text=True)
    assert "Phiên bản 2" in html and "Bản nháp" in html and "Đang áp dụng" in html
    html = client.get("/tinh/quy-tac/2").get_data(as_text=True)
    assert "Công bố phiên bản 2" in html and html.count('class="link" hx-get') == 20
    html = client.get("/tinh/quy-tac/1").get_data(as_text=True)
    assert "Công bố phiên bản 1" not in html and 'class="link" hx-get' not in html
    assert client.get("/tinh/quy-tac/99").status_code == 404


def test_publish_and_rename_errors_change_nothing(client, auth, users):
    auth.login("super1")
    _copy(client)
    response = post(client, "/tinh/quy-tac/2/cong-bo", {"effective_from": "2021-12-10", "effective_to": "2021-12-01"},
                    page="/tinh/quy-tac/2")
    assert response.status_code == 422 and "Ngày kết thúc trước ngày bắt đầu." in response.get_data(as_text=True)
    response = post(client, "/tinh/quy-tac/2/thong-tin", {"name": "", "source": "CV 1"}, page="/tinh/quy-tac/2")
    assert response.status_code == 422 and "Đặt tên cho phiên bản." in response.get_data(as_text=True)
    assert not any(r.published for r in ops.lines(2)) and ops.lines(2)[0].name == "Mẫu Bộ Y tế 2021"
    assert events("rule.publish") == [] and events("rule.edit") == []
    response = post(client, "/tinh/quy-tac/2/thong-tin", {"name": "CV 3536/UBND-KGVX", "source": "UBND tỉnh, 17/10/2021"},
                    page="/tinh/quy-tac/2")
    assert response.status_code == 302
    assert {r.name for r in ops.lines(2)} == {"CV 3536/UBND-KGVX"} and ops.lines(1)[0].name == "Mẫu Bộ Y tế 2021"
    assert len(events("rule.edit")) == 1
