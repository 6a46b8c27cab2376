"""Commune follow-up: confirmation, daily checks, the end rule, outcomes, transfer, scope, lists, history."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.followup import lists
from kiemdich.followup import operations as ops
from kiemdich.models import Arrival, ArrivalEvent, AuditEvent, HealthCheck
from kiemdich.text import fold
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, HealthCheckFactory, UserFactory

OTHER = "25417"  # Xã Nghĩa Trung: another commune of the province


def make(status="monitoring", commune="25210", *, start=None, days=7, after=0, tests=(1,),
         name="Trần Thị Bích Ngọc", phone="0912345678", **kwargs):
    """An arrival routed to `commune`, its plan starting `start` (default: today, local)."""
    start = start or clock.today()
    end = start + timedelta(days=days - 1)
    kwargs.setdefault("expected_at", clock.utcnow() - timedelta(hours=2))
    return ArrivalFactory(status=status, commune_code=commune, plan_start=start, plan_end=end,
                          self_monitoring_until=end + timedelta(days=after) if after else None,
                          test_days=list(tests), declaration__full_name=name, declaration__phone=phone,
                          declaration__dest_commune_code=commune, **kwargs)


def post(client, path, **data):
    token = csrf_token(client, "/xa")
    return client.post(path, data=data, headers={"X-CSRFToken": token, "HX-Request": "true"})


def events(arrival, action=None):
    stmt = select(ArrivalEvent).where(ArrivalEvent.arrival_id == arrival.id)
    if action:
        stmt = stmt.where(ArrivalEvent.action == action)
    return db.session.scalars(stmt).all()


def checks(arrival):
    return db.session.scalar(select(func.count()).select_from(HealthCheck).where(HealthCheck.arrival_id == arrival.id))


def audits(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def fresh(arrival):
    db.session.expire_all()
    return db.session.get(Arrival, arrival.id)


@pytest.fixture
def officer(client, auth, users):
    auth.login("xa1")
    return users["commune"]


# Confirmation ----------------------------------------------------------------------------------

def test_officer_confirms_an_arrival_once(client, officer):
    arrival = make(status="expected")
    db.session.commit()
    url = f"/xa/nguoi-den/{arrival.declaration.code}/xac-nhan"
    first = post(client, url, how="visit")
    assert first.status_code == 200 and "Đã xác nhận người đến." in first.get_data(as_text=True)
    again = post(client, url, how="phone")  # a replay or a double tap
    assert again.status_code == 200 and "đã được xác nhận trước đó" in again.get_data(as_text=True)
    arrival = fresh(arrival)
    assert (arrival.status, arrival.confirmed_how, arrival.confirmed_by_id) == ("monitoring", "visit", officer.id)
    assert len(events(arrival, "confirmed")) == 1 and len(audits("arrival.confirm")) == 1


def test_confirmation_needs_a_valid_way(client, officer):
    arrival = make(status="expected")
    db.session.commit()
    response = post(client, f"/xa/nguoi-den/{arrival.declaration.code}/xac-nhan", how="teleport")
    assert response.status_code == 422
    assert fresh(arrival).status == "expected" and events(arrival) == []


def test_a_declaration_only_plan_completes_on_arrival(app, users):
    arrival = make(status="expected", measure="declaration_only", days=1, tests=())
    assert ops.confirm_arrival(arrival, "phone", user=users["commune"])
    assert arrival.status == "completed" and arrival.ended_at is not None
    assert [e.action for e in arrival.events] == ["confirmed", "completed"]


# Daily checks ----------------------------------------------------------------------------------

def test_the_same_check_replayed_is_stored_once(client, officer):
    arrival = make()
    db.session.commit()
    url = f"/xa/nguoi-den/{arrival.declaration.code}/kiem-tra"
    key = str(uuid.uuid4())
    form = dict(client_uuid=key, source="phone", temperature="36,9", spo2="98", present="1", note="ổn")
    assert post(client, url, **form).status_code == 200
    replay = post(client, url, **form)
    assert replay.status_code == 200 and "đã được ghi trước đó" in replay.get_data(as_text=True)
    assert checks(arrival) == 1
    check = db.session.scalar(select(HealthCheck).where(HealthCheck.client_uuid == key))
    assert (str(check.temperature), check.spo2, check.source, check.user_id) == ("36.9", 98, "phone", officer.id)
    # the same UUID with other content is refused, nothing changes
    conflict = post(client, url, **(form | {"temperature": "38.5"}))
    assert conflict.status_code == 422 and checks(arrival) == 1 and not fresh(arrival).flagged


def test_the_same_check_uuid_in_operations(app, users):
    arrival = make()
    values = ops.CheckInput(temperature="37.0", source="visit")
    key = str(uuid.uuid4())
    first, created = ops.record_check(arrival, values, client_uuid=key, user=users["commune"])
    again, created_again = ops.record_check(arrival, values, client_uuid=key, user=users["commune"])
    assert created and not created_again and first.id == again.id and checks(arrival) == 1


@pytest.mark.parametrize("field,value,message", [
    ("temperature", "45", "Nhiệt độ"), ("spo2", "120", "SpO2"), ("source", "fax", "Chọn cách"),
])
def test_bad_check_values_are_refused_in_vietnamese(client, officer, field, value, message):
    arrival = make()
    db.session.commit()
    form = {"client_uuid": str(uuid.uuid4()), "source": "visit", field: value}
    response = post(client, f"/xa/nguoi-den/{arrival.declaration.code}/kiem-tra", **form)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert checks(arrival) == 0


def test_a_red_check_flags_and_only_an_officer_clears_it(app, users):
    arrival = make()
    ops.record_check(arrival, ops.CheckInput(temperature="37.5", source="self"), client_uuid=None)
    assert arrival.flagged and len(events(arrival, "flagged")) == 1
    ops.record_check(arrival, ops.CheckInput(temperature="36.5", source="self"), client_uuid=None)
    assert arrival.flagged  # a self-report of "fine" does not clear a fever
    ops.record_check(arrival, ops.CheckInput(temperature="36.5", spo2="98", source="visit"),
                     client_uuid=None, user=users["commune"])
    assert not arrival.flagged and len(events(arrival, "unflagged")) == 1


def test_a_check_on_an_expected_arrival_confirms_it(app, users):
    arrival = make(status="expected")
    ops.record_check(arrival, ops.CheckInput(symptoms=("ho",), source="phone"), client_uuid=None,
                     user=users["commune"])
    assert arrival.status == "monitoring" and arrival.confirmed_how == "phone" and arrival.flagged


def test_no_check_after_the_follow_up_ended(app, users):
    arrival = make(status="completed")
    with pytest.raises(ops.FollowupError):
        ops.record_check(arrival, ops.CheckInput(source="visit"), client_uuid=None, user=users["commune"])
    assert checks(arrival) == 0


# End of monitoring -----------------------------------------------------------------------------

def test_the_last_days_check_completes_the_monitoring(app, users):
    today = clock.today()
    arrival = make(start=today - timedelta(days=6))  # today is day 7 of 7
    HealthCheckFactory(arrival=arrival, check_date=today - timedelta(days=1))
    ops.record_check(arrival, ops.CheckInput(temperature="36.6", source="visit"), client_uuid=None,
                     user=users["commune"])
    assert arrival.status == "completed" and arrival.ended_at is not None
    assert events(arrival, "completed")[0].reason == "last_day_checked"


def test_without_the_last_days_check_it_ends_unchecked_and_is_never_extended_silently(app, users):
    today = clock.today()
    missed = make(start=today - timedelta(days=7))  # last day was yesterday, no check
    checked = make(start=today - timedelta(days=7), name="Lê Văn Tám")
    HealthCheckFactory(arrival=checked, check_date=today - timedelta(days=1))  # recorded, e.g. replayed late
    running = make(start=today - timedelta(days=2), name="Phạm Văn Đồng")
    assert ops.settle_ended({"25210"}, today) == 2
    assert (missed.status, checked.status, running.status) == ("ended_unchecked", "completed", "monitoring")
    assert missed.plan_end == today - timedelta(days=1)  # unchanged
    assert events(missed, "ended_unchecked")[0].reason == "end_rule"
    assert ops.settle_ended({"25210"}, today) == 0  # idempotent


def test_close_or_extend_needs_a_reason(client, officer):
    arrival = make(status="ended_unchecked", start=clock.today() - timedelta(days=9))
    db.session.commit()
    base = f"/xa/nguoi-den/{arrival.declaration.code}"
    for action, form in (("close", {}), ("extend", {"days": "2"})):
        response = post(client, f"{base}/{action}", reason="  ", **form)
        assert response.status_code == 422 and "Hãy ghi lý do." in response.get_data(as_text=True)
    assert fresh(arrival).status == "ended_unchecked" and events(arrival) == []
    response = post(client, f"{base}/extend", days="2", reason="Chưa liên lạc được ngày cuối")
    assert response.status_code == 200
    arrival = fresh(arrival)
    assert arrival.status == "monitoring" and arrival.plan_end == clock.today() + timedelta(days=1)
    event = events(arrival, "extended")[0]
    assert event.reason == "Chưa liên lạc được ngày cuối" and event.user_id == officer.id
    assert audits("arrival.extend")[0].after["last_day"] == arrival.plan_end.isoformat()


def test_close_after_ended_unchecked(client, officer):
    arrival = make(status="ended_unchecked", start=clock.today() - timedelta(days=9))
    db.session.commit()
    response = post(client, f"/xa/nguoi-den/{arrival.declaration.code}/close", reason="Đã gọi, khỏe")
    assert response.status_code == 200
    arrival = fresh(arrival)
    assert arrival.status == "completed" and events(arrival, "closed")[0].reason == "Đã gọi, khỏe"
    assert audits("arrival.close")[0].area_code == "25210"


# Plan change, outcomes, transfer ----------------------------------------------------------------

def test_plan_change_with_reason_is_audited(client, officer):
    arrival = make(days=7, tests=(1,))
    db.session.commit()
    url = f"/xa/nguoi-den/{arrival.declaration.code}/plan"
    refused = post(client, url, measure="home_quarantine", days="14", after_days="0", test_days="1, 14", reason="")
    assert refused.status_code == 422 and fresh(arrival).measure == "self_monitoring"
    response = post(client, url, measure="home_quarantine", days="14", after_days="7", test_days="1, 14",
                    reason="F1 của ca bệnh")
    assert response.status_code == 200
    arrival = fresh(arrival)
    assert (arrival.measure, arrival.test_days) == ("home_quarantine", [1, 14])
    assert arrival.plan_end == arrival.plan_start + timedelta(days=13)
    assert arrival.self_monitoring_until == arrival.plan_end + timedelta(days=7)
    event = events(arrival, "plan_changed")[0]
    assert event.data["before"]["measure"] == "self_monitoring" and event.data["after"]["measure"] == "home_quarantine"
    audit = audits("arrival.plan_change")[0]
    assert audit.detail == "F1 của ca bệnh" and audit.before["test_days"] == [1] and audit.username == "xa1"


def test_test_days_outside_the_plan_are_refused(app, users):
    arrival = make()
    with pytest.raises(ops.FollowupError):
        ops.change_plan(arrival, measure="self_monitoring", days=7, after_days=0, test_days=[9],
                        reason="x", user=users["commune"])


@pytest.mark.parametrize("action,form,status", [
    ("lost_contact", {"reason": "Không nghe máy 3 ngày"}, "lost_contact"),
    ("left_province", {}, "left_province"),
    ("referred", {"facility": "Trung tâm Y tế khu vực Đồng Xoài", "reason": "Sốt cao"}, "referred"),
])
def test_outcomes(client, officer, action, form, status):
    arrival = make()
    db.session.commit()
    response = post(client, f"/xa/nguoi-den/{arrival.declaration.code}/{action}", **form)
    assert response.status_code == 200
    arrival = fresh(arrival)
    assert arrival.status == status and arrival.ended_at is not None
    assert len(events(arrival, action)) == 1 and len(audits(f"arrival.{action}")) == 1
    if action == "referred":
        assert arrival.referred_facility == "Trung tâm Y tế khu vực Đồng Xoài"


def test_a_referral_needs_the_facility(client, officer):
    arrival = make()
    db.session.commit()
    response = post(client, f"/xa/nguoi-den/{arrival.declaration.code}/referred", facility=" ")
    assert response.status_code == 422 and fresh(arrival).status == "monitoring"


def test_lost_contact_can_resume(app, users):
    arrival = make()
    arrival.arrived_at = clock.utcnow()
    ops.set_outcome(arrival, "lost_contact", user=users["commune"])
    ops.resume(arrival, "Đã liên lạc lại", user=users["commune"])
    assert arrival.status == "monitoring" and arrival.ended_at is None


def test_transfer_appears_in_the_other_commune_with_its_history(app, client, auth, users):
    arrival = make(flagged=True)
    HealthCheckFactory(arrival=arrival, check_date=clock.today(), temperature=38, symptoms=["sot"])
    UserFactory(username="xa2", role="commune", area_codes=[OTHER])
    db.session.commit()
    auth.login("xa1")
    code = arrival.declaration.code
    assert post(client, f"/xa/nguoi-den/{code}/transfer", to="25210", reason="x").status_code == 422  # same commune
    assert post(client, f"/xa/nguoi-den/{code}/transfer", to="79", reason="x").status_code == 422  # not a commune here
    assert post(client, f"/xa/nguoi-den/{code}/transfer", to=OTHER, reason="Về ở nhà con gái").status_code == 200
    old = fresh(arrival)
    new = db.session.scalar(select(Arrival).where(Arrival.commune_code == OTHER))
    assert old.status == "transferred" and new.status == "expected" and new.flagged
    assert (new.plan_start, new.plan_end, new.measure) == (old.plan_start, old.plan_end, old.measure)
    assert events(new, "transferred_in")[0].data["from"] == "25210"
    # the old commune still sees it, as transferred; the new one has it in its lists, first and red
    page = client.get(f"/xa/nguoi-den/{code}").get_data(as_text=True)
    assert "Đã chuyển" in page
    auth.logout()
    auth.login("xa2")
    home = client.get("/xa").get_data(as_text=True)
    assert arrival.declaration.full_name in home and 'class="red"' in home
    detail = client.get(f"/xa/nguoi-den/{code}").get_data(as_text=True)
    assert "Chuyển từ xã khác" in detail and "Chuyển sang xã khác" in detail
    assert "Kiểm tra trước khi chuyển" in detail and "Sốt" in detail


# Scope -----------------------------------------------------------------------------------------

def test_an_officer_never_sees_or_changes_another_communes_arrival(client, officer):
    mine = make(name="Nguyễn Văn Mình", phone="0911111111")
    theirs = make(commune=OTHER, status="expected", name="Nguyễn Văn Người Khác", phone="0922222222", flagged=True)
    db.session.commit()
    base = f"/xa/nguoi-den/{theirs.declaration.code}"
    # Another commune's existing code answers as an unknown one: 404, so codes cannot be probed.
    assert client.get(base).status_code == 404
    assert post(client, f"{base}/xac-nhan", how="visit").status_code == 404
    assert post(client, f"{base}/kiem-tra", source="visit", temperature="36.5").status_code == 404
    for action in ("close", "extend", "plan", "transfer", "lost_contact", "referred"):
        assert post(client, f"{base}/{action}", reason="x", days="1", facility="x", to="25210").status_code == 404
    assert client.get("/xa/nguoi-den/ZZZZZZZZ").status_code == 404  # a guessed code
    theirs = fresh(theirs)
    assert theirs.status == "expected" and checks(theirs) == 0 and events(theirs) == []
    # lists, counts and search
    for key in lists.KEYS:
        for q in ("", "nguyen", "0922", "nguoi khac"):
            html = post(client, f"/xa/ds/{key}/dong", q=q).get_data(as_text=True)
            assert "Người Khác" not in html and "0922222222" not in html
    home = client.get("/xa").get_data(as_text=True)
    assert "Người Khác" not in home and "người có triệu chứng" not in home
    assert mine.declaration.full_name in client.get("/xa/ds/monitoring").get_data(as_text=True)


def test_other_roles_are_refused(client, auth, users):
    arrival = make()
    db.session.commit()
    for username in ("chot1", "super1", "admin1"):
        auth.login(username)
        assert client.get(f"/xa/nguoi-den/{arrival.declaration.code}").status_code == 403
        assert client.get("/xa/ds/due").status_code == 403
        auth.logout()


# Lists -----------------------------------------------------------------------------------------

def test_each_list_holds_the_right_people(app, users):
    today = clock.today()
    now = clock.utcnow()
    made = {
        "expected": make(status="expected", name="A Chờ"),
        "overdue": make(status="expected", name="B Quá hạn", expected_at=now - timedelta(hours=30)),
        "due": make(name="C Chưa kiểm tra", tests=()),
        "checked": make(name="D Đã kiểm tra", start=today - timedelta(days=1), tests=()),
        "test": make(name="E Xét nghiệm", start=today - timedelta(days=6), days=7, after=7, tests=(1, 7)),
        "ending": make(name="F Kết thúc", start=today - timedelta(days=6), tests=()),
        "unchecked": make(name="G Quá ngày cuối", start=today - timedelta(days=8), tests=()),
        "sick": make(name="H Có triệu chứng", flagged=True, tests=()),
    }
    HealthCheckFactory(arrival=made["checked"], check_date=today)
    db.session.commit()

    def names(key):
        return [r.name for r in lists.page({"25210"}, key, today, now).rows]

    assert names("symptomatic") == ["H Có triệu chứng"]
    assert names("expected") == ["B Quá hạn", "A Chờ"]  # the oldest first
    assert lists.page({"25210"}, "expected", today, now).rows[0].overdue
    assert names("due") == ["H Có triệu chứng", "C Chưa kiểm tra", "E Xét nghiệm", "F Kết thúc"]
    assert names("tests") == ["E Xét nghiệm"]
    assert names("ending") == ["F Kết thúc"]
    assert names("unchecked") == ["G Quá ngày cuối"]
    assert "D Đã kiểm tra" in names("monitoring") and "G Quá ngày cuối" not in names("monitoring")
    counts = lists.counts({"25210"}, today, now)
    assert counts == {"symptomatic": 1, "expected": 2, "due": 4, "tests": 1, "monitoring": 5, "ending": 1,
                      "unchecked": 1, "overdue": 1}
    # a test result recorded today takes the person off "tests today"
    HealthCheckFactory(arrival=made["test"], check_date=today, test_result="negative")
    assert names("tests") == []


def test_symptomatic_people_come_first_in_every_list(client, officer):
    make(name="An Bình", tests=())
    make(name="Yến Vy", tests=(), flagged=True)
    db.session.commit()
    for key in ("due", "monitoring"):
        html = client.get(f"/xa/ds/{key}/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert html.index("Yến Vy") < html.index("An Bình")
        assert html.split("Yến Vy")[0].rsplit("<li", 1)[1].startswith(' class="red"')
    home = client.get("/xa").get_data(as_text=True)
    assert 'tile symptomatic on' in home and "Yến Vy" in home and "An Bình" not in home


@pytest.mark.parametrize("q,found", [
    ("nguyen van", True), ("NGUYỄN VĂN AN", True), ("văn an", True), ("an nguyen", True),
    ("0912 345", True), ("345678", True), ("+84912345678", True), ("tran", False), ("0987", False),
])
def test_search_ignores_case_and_diacritics_and_matches_phones(client, officer, q, found):
    make(name="Nguyễn Văn An", phone="0912345678", tests=())
    make(name="Lê Thị Hoa", phone="0977777777", tests=())
    db.session.commit()
    html = post(client, "/xa/ds/due/dong", q=q).get_data(as_text=True)  # a search is never in a URL
    assert ("Nguyễn Văn An" in html) is found
    assert "Lê Thị Hoa" not in html


def test_pagination_and_fragment_size(client, officer):
    for i in range(lists.PAGE + 5):
        make(name=f"Nguyễn Thị Phương Thảo Hoàng Ngọc {i:02d}", phone=f"09123456{i:02d}", tests=(1,),
             declaration__dest_street="Số 123 đường Phú Riềng Đỏ, khu phố Tân Bình, tổ 15")
    db.session.commit()
    first = client.get("/xa/ds/due/dong", headers={"HX-Request": "true", "Accept-Encoding": "br"})
    html = client.get("/xa/ds/due/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.count("<li") == lists.PAGE and "trang=2" in html and "tel:0912345600" in html
    second = client.get("/xa/ds/due/dong?trang=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert second.count("<li") == 5 and "trang=1" in second
    panel = client.get("/xa/ds/due", headers={"HX-Request": "true", "Accept-Encoding": "br"})
    # the budget: an HTMX fragment is at most 5 KB over the wire
    assert first.headers["Content-Encoding"] == "br" and len(first.data) <= 5 * 1024
    assert panel.headers["Content-Encoding"] == "br" and len(panel.data) <= 5 * 1024
    assert "<html" not in html and "<html" in client.get("/xa/ds/due/dong").get_data(as_text=True)


def test_home_shows_counts_and_calls_in_one_tap(client, officer):
    make(status="expected", expected_at=clock.utcnow() - timedelta(hours=30), phone="0933333333")
    db.session.commit()
    html = client.get("/xa").get_data(as_text=True)
    assert "Người đến địa bàn" in html and "Phường Đồng Xoài" in html
    assert "1 người chờ đến quá 24 giờ" in html
    html = client.get("/xa/ds/expected").get_data(as_text=True)
    assert 'href="tel:0933333333"' in html and "Quá hạn" in html


def test_the_home_applies_the_end_rule(client, officer):
    arrival = make(start=clock.today() - timedelta(days=8))
    db.session.commit()
    html = client.get("/xa").get_data(as_text=True)
    assert fresh(arrival).status == "ended_unchecked"
    assert 'class="tile unchecked"' in html


# Every change leaves a trace -------------------------------------------------------------------

def test_every_state_change_writes_history_and_audit(app, users):
    officer = users["commune"]
    today = clock.today()
    a = make(status="expected")
    steps = [
        (lambda: ops.confirm_arrival(a, "visit", user=officer), "confirmed", "arrival.confirm"),
        (lambda: ops.record_check(a, ops.CheckInput(symptoms=("ho",), source="visit"), client_uuid=None,
                                  user=officer), "flagged", "health_check.add"),
        (lambda: ops.change_plan(a, measure="home_quarantine", days=7, after_days=0, test_days=[1],
                                 reason="r", user=officer), "plan_changed", "arrival.plan_change"),
        (lambda: ops.set_outcome(a, "lost_contact", user=officer), "lost_contact", "arrival.lost_contact"),
        (lambda: ops.resume(a, "r", user=officer), "resumed", "arrival.resume"),
        (lambda: ops.extend(a, 3, "r", user=officer, today=today), "extended", "arrival.extend"),
        (lambda: ops.close(a, "r", user=officer), "closed", "arrival.close"),
    ]
    for run, event, audit in steps:
        before = a.status
        run()
        db.session.flush()
        assert events(a, event), event
        assert audits(audit), audit
        assert before != a.status or event in ("flagged", "plan_changed", "extended")
    b = make(name="Lê Văn Tám")
    new = ops.transfer(b, OTHER, "r", user=officer)
    db.session.flush()
    assert events(b, "transferred_out") and events(new, "transferred_in") and audits("arrival.transfer")


def test_the_daily_command_applies_the_end_rule(runner):
    over = make(start=clock.today() - timedelta(days=10))
    elsewhere = make(commune=OTHER, start=clock.today() - timedelta(days=10), name="Lê Văn Tám")
    running = make(name="Phạm Văn Đồng")
    db.session.commit()
    result = runner.invoke(args=["followup", "settle"])
    assert result.exit_code == 0 and "2 arrival(s) changed" in result.output
    assert (fresh(over).status, fresh(elsewhere).status, fresh(running).status) == (
        "ended_unchecked", "ended_unchecked", "monitoring")


def _through_checkpoint(user, name: str, symptoms: list[str]):
    """A traveller to commune 25210 let through at chot1's checkpoint (the real passage write)."""
    from kiemdich.scan import operations as scan
    from tests.factories import DeclarationFactory

    decl = DeclarationFactory(full_name=name, search_name=fold(name), dest_commune_code="25210", symptoms=symptoms)
    scan.record_passage(user=user, checkpoint=user.checkpoints[0].checkpoint, decl=decl,
                        values=scan.PassageInput("allow"), client_uuid=str(uuid.uuid4()))
    db.session.commit()
    return db.session.scalar(select(Arrival).where(Arrival.declaration_id == decl.id))


def test_symptoms_declared_at_the_border_put_the_arrival_in_the_red_list(client, auth, users):
    """Issue 11 item 6: "Sốt, Ho" on the form is red from routing on, before any check."""
    well = _through_checkpoint(users["checkpoint"], "An Văn Khỏe", [])
    sick = _through_checkpoint(users["checkpoint"], "Vũ Thị Sốt", ["sot", "ho"])
    assert sick.flagged and not well.flagged
    flag = events(sick, "flagged")
    assert [(e.reason, e.data["symptoms"]) for e in flag] == [("border_symptoms", ["sot", "ho"])]

    auth.login("xa1")
    home = client.get("/xa").get_data(as_text=True)
    assert '<span class="n">1</span><span class="l">Có triệu chứng</span>' in home
    assert "1 người có triệu chứng" in home
    waiting = client.get("/xa/ds/expected/dong", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert waiting.index("Vũ Thị Sốt") < waiting.index("An Văn Khỏe")
    first_row = waiting[waiting.index("<li"):waiting.index("Vũ Thị Sốt")]
    assert 'class="red"' in first_row and "triệu chứng" in waiting[:waiting.index("An Văn Khỏe")]
    detail = client.get(f"/xa/nguoi-den/{sick.declaration.code}").get_data(as_text=True)
    assert "khai báo triệu chứng khi vào tỉnh" in detail and "Sốt, Ho" in detail

    from kiemdich.dashboard import figures as figs
    now = clock.utcnow()
    day = clock.today(now)
    totals = figs.compute(figs.Scope(frozenset({"25210"}), day - timedelta(days=1), day, now)).totals
    assert totals["a_sym"] == 1


def test_tests_today_list_is_the_plans_test_days_counted_in_the_database(app, users):
    """The "Tests today" list and its tile (computed in SQL, JSON test days) agree with the plan
    rule (schedule.test_today) for every day of the plans, with a recorded test taking a person off."""
    from kiemdich.followup import schedule

    today = clock.today()
    made = [make(start=today - timedelta(days=back), days=14, tests=tests, name=f"Người {back} {tests}",
                 phone=f"09{back:02d}{len(tests)}00000")
            for back in (0, 2, 6, 13, 20) for tests in ((1,), (1, 7), (3, 7, 14), ())]
    make(status="expected", tests=(1,), name="Chưa đến")  # not monitored: never listed
    tested = make(start=today - timedelta(days=6), days=14, tests=(7,), name="Đã xét nghiệm", phone="0988000000")
    HealthCheckFactory(arrival=tested, check_date=today, test_result="negative", test_kind="rapid")
    db.session.commit()
    expected = {a.declaration.full_name for a in made
                if schedule.test_today(a.status, a.plan_start, a.test_days, today)}
    assert expected == {"Người 0 (1,)", "Người 0 (1, 7)", "Người 2 (3, 7, 14)", "Người 6 (1, 7)",
                        "Người 6 (3, 7, 14)", "Người 13 (3, 7, 14)"}
    names, number = set(), 1
    while True:
        page = lists.page({"25210"}, "tests", today, clock.utcnow(), number=number)
        names |= {r.name for r in page.rows}
        if not page.has_next:
            break
        number += 1
    assert names == expected
    assert lists.counts({"25210"}, today, clock.utcnow())["tests"] == len(expected)
