"""Audit trail (append-only, scoped, filtered), masked ID numbers with audited reveal, privacy notice,
retention and data-subject requests."""
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kiemdich.audit import AuditTampering
from kiemdich.clock import utcnow
from kiemdich.dashboard import figures as figs
from kiemdich.declarations.operations import latest_notice
from kiemdich.extensions import db
from kiemdich.models import (Arrival, ArrivalEvent, AuditEvent, Checkpoint, Declaration, HealthCheck, ImportRow,
                             Passage, PrivacyNotice)
from kiemdich.privacy import operations as privacy
from tests.conftest import csrf_token
from tests.factories import (ArrivalEventFactory, ArrivalFactory, AuditEventFactory, DeclarationFactory,
                             HealthCheckFactory, ImportRowFactory, PassageFactory, UserFactory)
from tests.factories_supervision import END, ONE, OTHER, START, TWO, dashboard_dataset, supervisor


def events(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def htmx_post(client, path: str, page: str = "/"):
    token = csrf_token(client, page)
    return client.post(path, headers={"HX-Request": "true", "X-CSRFToken": token})


# --- Audit trail ------------------------------------------------------------------------------------

def test_no_route_can_change_the_audit_trail(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("audit_trail.")]
    assert rules and all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


def test_the_orm_refuses_to_change_or_delete_an_event(app, users):
    event = AuditEventFactory(detail="original")
    db.session.commit()
    event.detail = "changed"
    with pytest.raises(AuditTampering):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AuditTampering):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).detail == "original"


@pytest.fixture
def trail(app, users):
    """Events about two communes and by people of each; one admin event with no area."""
    other = UserFactory(username="xa2", role="commune", area_codes=[TWO])
    made = [
        AuditEventFactory(action="export.arrivals", area_code=ONE, username="xa1", user_id=users["commune"].id,
                          at=utcnow() - timedelta(days=3)),
        AuditEventFactory(action="id.reveal", area_code=ONE, object_type="Declaration", object_id="ABCD2345",
                          username="super1", user_id=users["supervisor"].id),
        AuditEventFactory(action="export.arrivals", area_code=TWO, username="xa2", user_id=other.id),
        AuditEventFactory(action="auth.login", area_code=None, username="xa1", user_id=users["commune"].id),
        AuditEventFactory(action="auth.login", area_code=None, username="xa2", user_id=other.id),
        AuditEventFactory(action="account.create", area_code=None, username="admin1", user_id=users["admin"].id),
    ]
    db.session.commit()
    return made


def listed(client, **params) -> str:
    response = client.get("/nhat-ky/", query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def count_events(html: str) -> int:
    return html.count('<li><span class="what">')


def test_a_supervisor_reads_the_events_of_their_area_and_admins_all(client, auth, trail):
    supervisor("sup_one", ONE)
    auth.login("sup_one")
    html = listed(client)
    # ONE's two events, xa1's sign-in (xa1 works in ONE), and sup_one's own sign-in; nothing of TWO or admin1
    assert count_events(html) == 4
    assert "xa2" not in html and "admin1" not in html and "ABCD2345" in html
    auth.logout()
    auth.login("admin1")
    html = listed(client)
    assert count_events(html) == db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert "xa2" in html and "admin1" in html


def test_audit_filters(client, auth, trail):
    auth.login("admin1")
    assert count_events(listed(client, action="export")) == 2
    assert count_events(listed(client, action="auth.login")) == 3  # the two made and admin1 signing in here
    assert count_events(listed(client, user="xa2")) == 2
    assert count_events(listed(client, obj="ABCD2345")) == 1
    day = (utcnow() + timedelta(hours=7) - timedelta(days=3)).date()
    html = listed(client, start=day.isoformat(), end=day.isoformat())
    assert count_events(html) == 1 and "export.arrivals" in html
    response = client.get("/nhat-ky/", query_string={"start": "không phải ngày"})
    assert response.status_code == 422 and "bỏ qua" in response.get_data(as_text=True)


def test_audit_pages_older_events_as_small_fragments(client, auth, users):
    for i in range(70):
        AuditEventFactory(action="export.passages", area_code=ONE, detail=f"checkpoints=1 2021-10-0{i % 9 + 1}")
    db.session.commit()
    auth.login("admin1")
    first = listed(client)
    assert count_events(first) == 30 and "before=" in first
    older = first.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    response = client.get(older, headers={"HX-Request": "true", "Accept-Encoding": "br"})
    assert response.status_code == 200 and len(response.data) <= 5 * 1024
    import brotli
    body = brotli.decompress(response.data).decode()
    assert "<html" not in body and count_events(body) == 30


# --- Masked ID numbers and the audited reveal -----------------------------------------------------

def test_reveal_shows_the_number_once_and_writes_one_event(client, auth, users):
    decl = DeclarationFactory(id_number="079187654321", dest_commune_code=ONE)
    db.session.commit()
    auth.login("super1")
    response = htmx_post(client, f"/hien-so/{decl.code}", page="/tinh")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "079187654321" in html and "<html" not in html
    (event,) = events("id.reveal")
    assert (event.username, event.object_id, event.area_code) == ("super1", decl.code, ONE)
    assert "079187654321" not in json.dumps([event.detail, event.before, event.after])


def test_reveal_is_refused_outside_the_scope(client, auth, users):
    decl = DeclarationFactory(id_number="079187654321", dest_commune_code=TWO)
    gone = DeclarationFactory(id_number="", dest_commune_code=ONE, deidentified_at=utcnow())
    db.session.commit()
    supervisor("sup_one", ONE)
    auth.login("sup_one")
    assert htmx_post(client, f"/hien-so/{decl.code}", page="/tinh").status_code == 404
    assert htmx_post(client, f"/hien-so/{gone.code}", page="/tinh").status_code == 404
    auth.logout()
    auth.login("xa1")  # commune officer of ONE: the traveller goes to TWO
    assert htmx_post(client, f"/hien-so/{decl.code}", page="/xa").status_code == 404
    auth.logout()
    auth.login("admin1")  # admins see personal data only through a data-subject request
    assert htmx_post(client, f"/hien-so/{decl.code}", page="/quan-tri/tai-khoan/").status_code == 403
    assert events("id.reveal") == []


def _crawl_values(data, users) -> dict:
    checkpoint = db.session.scalar(select(Checkpoint).where(Checkpoint.id == users["checkpoint"].checkpoint_ids[0]))
    decls = data["declarations"]
    batch = ImportRowFactory(declaration_id=decls[0].id, data={"Số CCCD/CMND": decls[0].id_number}).batch
    return {
        "code": [decls[0].code, decls[1].code, decls[7].code, data["cp_a"].code, checkpoint.code],
        "checkpoint_id": [data["cp_a"].id, checkpoint.id],
        "user_id": [users["commune"].id], "number": [1], "line_id": [1], "batch_id": [batch.id],
        "export_id": ["0" * 32],  # a queued export's file: only its owner reads it (tests/test_export_jobs.py)
        "key": ["symptomatic", "expected", "due", "tests", "monitoring", "ending", "unchecked"],
    }


QUERIES = {"dashboard.drill": [{"start": START.isoformat(), "end": END.isoformat(), "f": f.key} for f in figs.FIGURES],
           "homes.supervisor": [{"start": START.isoformat(), "end": END.isoformat()}]}


def crawl(app, client, values: dict) -> tuple[list[str], list[str]]:
    """GET every route the app has (as the signed-in user), page and htmx fragment; returns the
    HTML bodies and the routes that could not be filled in."""
    from itertools import product

    from flask import url_for

    bodies, skipped = [], []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint == "auth.language":
            continue
        args = sorted(rule.arguments)
        if any(a not in values for a in args):
            skipped.append(rule.rule)
            continue
        for combo in product(*(values[a] for a in args)):
            for query in QUERIES.get(rule.endpoint, [{}]):
                with app.test_request_context():
                    url = url_for(rule.endpoint, **dict(zip(args, combo)), **query)
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.get(url, headers=headers)
                    if response.mimetype == "text/html":
                        bodies.append(response.get_data(as_text=True))
    return bodies, skipped


def test_no_page_or_fragment_shows_an_unmasked_id_number(app, client, auth, users):
    data = dashboard_dataset()
    chot = db.session.get(Checkpoint, users["checkpoint"].checkpoint_ids[0])
    for d in data["declarations"][:3]:
        PassageFactory(declaration=d, checkpoint=chot, server_ts=utcnow())
    fresh = DeclarationFactory(id_number="075199999999", dest_commune_code=ONE, full_name="Người Mới")
    ArrivalFactory(declaration=fresh, commune_code=ONE, status="monitoring", expected_at=utcnow())
    db.session.commit()
    numbers = [d.id_number for d in data["declarations"]] + [fresh.id_number]
    values = _crawl_values(data, users)
    values["code"].append(fresh.code)
    masked_seen = 0
    for username in (None, "admin1", "super1", "chot1", "xa1"):
        if username:
            auth.login(username)
        bodies, skipped = crawl(app, client, values)
        assert len(bodies) > 20, username
        for body in bodies:
            leaked = [n for n in numbers if n in body]
            assert not leaked, (username, leaked, body[:300])
            masked_seen += body.count("••••••••")
        if username:
            auth.logout()
    assert masked_seen > 0  # the lists do show people, masked
    assert skipped == []  # every GET route was visited


# --- Privacy notice ---------------------------------------------------------------------------------

NEW_TEXT = ("Mục đích: phòng, chống dịch. Bên kiểm soát dữ liệu: Ban Chỉ đạo tỉnh. Thời gian lưu: 30 ngày "
            "sau khi kết thúc theo dõi. Quyền của bạn: truy cập, chỉnh sửa, xóa.")


def test_admins_publish_a_new_notice_version_shown_before_declaring(client, auth, users):
    auth.login("admin1")
    page = client.get("/quan-tri/thong-bao-du-lieu").get_data(as_text=True)
    assert "2026-01" in page
    token = csrf_token(client, "/quan-tri/thong-bao-du-lieu")
    response = client.post("/quan-tri/thong-bao-du-lieu", data={"csrf_token": token, "version": "2026-07",
                                                               "text": NEW_TEXT})
    assert response.status_code == 302 and response.location == "/quan-tri/thong-bao-du-lieu"
    assert latest_notice().version == "2026-07"
    assert len(events("privacy_notice.publish")) == 1
    response = client.post("/quan-tri/thong-bao-du-lieu", data={"csrf_token": token, "version": "2026-07",
                                                               "text": NEW_TEXT})
    assert response.status_code == 422 and "đã có" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PrivacyNotice)) == 2
    auth.logout()
    form = client.get("/khai-bao").get_data(as_text=True)
    assert "30 ngày" in form and "2026-07" in form


def test_only_admins_edit_the_notice_and_handle_requests(client, auth, users):
    for username in ("super1", "chot1", "xa1"):
        auth.login(username)
        assert client.get("/quan-tri/thong-bao-du-lieu").status_code == 403
        assert client.get("/quan-tri/yeu-cau-du-lieu").status_code == 403
        auth.logout()


# --- Retention --------------------------------------------------------------------------------------

@pytest.fixture
def aged(app, users):
    """Travellers in every situation retention must tell apart (cutoff: 30 days)."""
    now = utcnow()
    old = now - timedelta(days=40)

    def person(n, **kw):
        return DeclarationFactory(full_name=f"Người {n}", id_number=f"07519123400{n}", phone=f"091234500{n}",
                                  dest_street="Tổ 3", contact_street="Ấp 4", vehicle_plate="93F1-12345",
                                  created_at=old, dest_commune_code=ONE, **kw)

    made = {
        "ended_long_ago": person(1, valid_until=old),
        "ended_recently": person(2, valid_until=old),
        "monitoring": person(3, valid_until=old),
        "never_routed_long_ago": person(4, valid_until=old),
        "never_routed_recently": person(5, valid_until=now - timedelta(days=5)),
        "one_closed_one_open": person(6, valid_until=old),
    }
    a1 = ArrivalFactory(declaration=made["ended_long_ago"], status="completed", ended_at=old, expected_at=old)
    HealthCheckFactory(arrival=a1, note="gọi cho vợ anh Người 1")
    ArrivalEventFactory(arrival=a1, action="close", reason="Người 1 đã khỏe")
    ImportRowFactory(declaration_id=made["ended_long_ago"].id, data={"Họ và tên": "Người 1"})
    invalid = ImportRowFactory(status="invalid", data={"Họ và tên": "Người Lỗi", "SĐT": "0987654321"})
    invalid.batch.created_at = old
    ImportRowFactory(status="duplicate", data={"Họ và tên": "Người Mới Nhập"})  # a recent batch: kept
    PassageFactory(declaration=made["ended_long_ago"], note="Người 1 đi cùng con")
    ArrivalFactory(declaration=made["ended_recently"], status="completed", ended_at=now - timedelta(days=10),
                   expected_at=old)
    ArrivalFactory(declaration=made["monitoring"], status="monitoring", expected_at=old)
    ArrivalFactory(declaration=made["one_closed_one_open"], status="transferred", ended_at=old, expected_at=old)
    ArrivalFactory(declaration=made["one_closed_one_open"], status="monitoring", commune_code=TWO, expected_at=old)
    db.session.commit()
    return made


def _counts() -> tuple:
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Declaration, Passage, Arrival, HealthCheck, ArrivalEvent))


def test_retention_deidentifies_the_right_rows_and_keeps_aggregates(app, aged):
    start, end = (utcnow() - timedelta(days=60)).date(), (utcnow() + timedelta(days=1)).date()
    scope = figs.Scope(frozenset({ONE, TWO, "75"}), start, end, utcnow())
    before_figures, before_counts = figs.compute(scope).totals, _counts()
    assert privacy.retention(30, dry_run=True) == 2
    assert privacy.retention(30) == 2
    db.session.commit()
    db.session.expire_all()
    gone = {k for k, d in aged.items() if db.session.get(Declaration, d.id).deidentified_at is not None}
    assert gone == {"ended_long_ago", "never_routed_long_ago"}
    d = db.session.get(Declaration, aged["ended_long_ago"].id)
    assert (d.full_name, d.search_name, d.id_number, d.phone, d.dest_street, d.contact_street, d.vehicle_plate) == \
        ("", "", "", "", "", "", "")
    assert (d.birth_year, d.dest_commune_code, d.origin_province_code) == (1990, ONE, "79")  # aggregates stay
    kept = db.session.get(Declaration, aged["monitoring"].id)
    assert kept.full_name == "Người 3" and kept.id_number == "075191234003"
    a1 = d.arrivals[0]
    assert a1.checks[0].note == "" and a1.events[0].reason == "" and a1.status == "completed"
    assert db.session.scalar(select(ImportRow.data).where(ImportRow.declaration_id == d.id)) == {}
    assert db.session.scalar(select(Passage.note).where(Passage.declaration_id == d.id)) == ""
    unlinked = db.session.scalars(select(ImportRow.data).where(ImportRow.declaration_id.is_(None))
                                  .order_by(ImportRow.id)).all()
    assert unlinked == [{}, {"Họ và tên": "Người Mới Nhập"}]  # the old batch's line emptied, the recent one kept
    assert _counts() == before_counts
    assert figs.compute(figs.Scope(scope.communes, start, end, scope.now)).totals == before_figures
    assert len(events("retention.run")) == 1 and events("retention.run")[0].after["deidentified"] == 2


@pytest.mark.parametrize("status", ["expected", "arrived", "monitoring", "ended_unchecked"])
def test_retention_never_touches_a_follow_up_still_under_way(app, users, status):
    """An arrival under way that nobody touched for longer than the period (no end, old updated_at)
    is kept: de-identifying it is irreversible and the officer still needs the person's name."""
    old = utcnow() - timedelta(days=40)
    decl = DeclarationFactory(full_name="Người Đang Theo Dõi", id_number="075191234777", created_at=old,
                              valid_until=old, dest_commune_code=ONE)
    ArrivalFactory(declaration=decl, status=status, ended_at=None, expected_at=old, created_at=old, updated_at=old)
    ended = DeclarationFactory(full_name="Người Đã Xong", created_at=old, valid_until=old, dest_commune_code=ONE)
    ArrivalFactory(declaration=ended, status="completed", ended_at=old, expected_at=old, created_at=old, updated_at=old)
    db.session.commit()
    assert privacy.retention(30) == 1
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(Declaration, decl.id)
    assert (kept.full_name, kept.id_number, kept.deidentified_at) == ("Người Đang Theo Dõi", "075191234777", None)
    assert db.session.get(Declaration, ended.id).deidentified_at is not None  # the period itself did apply


def test_retention_is_idempotent(app, aged):
    assert privacy.retention(30) == 2
    db.session.commit()
    snapshot = [(d.full_name, d.id_number, d.deidentified_at) for d in db.session.scalars(
        select(Declaration).order_by(Declaration.id))]
    assert privacy.retention(30) == 0
    db.session.commit()
    db.session.expire_all()
    assert [(d.full_name, d.id_number, d.deidentified_at) for d in db.session.scalars(
        select(Declaration).order_by(Declaration.id))] == snapshot
    assert [e.after["deidentified"] for e in events("retention.run")] == [2, 0]


def test_retention_command(runner, aged):
    result = runner.invoke(args=["kiemdich", "retention", "--days", "30", "--dry-run"])
    assert result.exit_code == 0 and "2 declarations would be" in result.output
    assert events("retention.run") == []
    result = runner.invoke(args=["kiemdich", "retention", "--days", "30"])
    assert result.exit_code == 0 and "2 declarations de-identified" in result.output
    result = runner.invoke(args=["kiemdich", "retention", "--days", "30"])
    assert "0 declarations de-identified" in result.output
    assert runner.invoke(args=["kiemdich", "retention", "--days", "-1"]).exit_code != 0


# --- Data-subject requests --------------------------------------------------------------------------

@pytest.fixture
def person(app, users):
    """Two trips of one person (same ID number), and someone else."""
    first = DeclarationFactory(full_name="Lê Thị Hoa", id_number="079300001111", phone="0987000111", birth_year=1985)
    second = DeclarationFactory(full_name="Lê Thị Hoa", id_number="079300001111", phone="0987000111", birth_year=1985)
    ArrivalFactory(declaration=first, status="completed", ended_at=utcnow() - timedelta(days=3))
    HealthCheckFactory(arrival=first.arrivals[0] if first.arrivals else ArrivalFactory(declaration=first))
    DeclarationFactory(full_name="Trần Văn Khác", id_number="079300002222")
    db.session.commit()
    return first, second


def _search(client, **fields):
    token = csrf_token(client, "/quan-tri/yeu-cau-du-lieu")
    return client.post("/quan-tri/yeu-cau-du-lieu", data={"csrf_token": token} | fields)


def test_find_export_and_erase_a_persons_records(client, auth, person):
    first, second = person
    auth.login("admin1")
    html = _search(client, id_number="0793 0000 1111").get_data(as_text=True)
    assert "Tìm thấy 2 hồ sơ" in html and "Trần Văn Khác" not in html and "079300001111" not in html
    (search,) = events("dsr.search")
    assert search.detail == "by id_number" and sorted(search.after["codes"]) == sorted([first.code, second.code])
    assert "Tìm thấy 2 hồ sơ" in _search(client, name="le thi hoa", birth_year="1985").get_data(as_text=True)
    assert "Tìm thấy 2 hồ sơ" in _search(client, phone="+84987000111").get_data(as_text=True)

    token = csrf_token(client, "/quan-tri/yeu-cau-du-lieu")
    response = client.post("/quan-tri/yeu-cau-du-lieu/xuat", data={"csrf_token": token,
                                                                  "code": [first.code, second.code]})
    assert response.status_code == 200 and response.mimetype == "application/json"
    exported = json.loads(response.data)
    assert {d["code"] for d in exported["declarations"]} == {first.code, second.code}
    record = next(d for d in exported["declarations"] if d["code"] == first.code)
    assert record["id_number"] == "079300001111" and record["full_name"] == "Lê Thị Hoa"
    assert record["arrivals"] and record["arrivals"][0]["health_checks"]
    assert len(events("dsr.export")) == 1

    response = client.post("/quan-tri/yeu-cau-du-lieu/xoa", data={"csrf_token": token, "code": [first.code], "reason": ""})
    assert response.status_code == 422 and "Ghi rõ lý do" in response.get_data(as_text=True)
    response = client.post("/quan-tri/yeu-cau-du-lieu/xoa", data={
        "csrf_token": token, "code": [first.code, second.code], "reason": "Yêu cầu ngày 20/05/2026, đã đối chiếu CCCD"})
    assert response.status_code == 302
    db.session.expire_all()
    assert all(db.session.get(Declaration, d.id).id_number == "" for d in (first, second))
    (erase,) = events("dsr.erase")
    assert erase.detail.startswith("Yêu cầu ngày") and erase.after["deidentified"] == 2
    assert "Không tìm thấy hồ sơ nào." in _search(client, id_number="079300001111").get_data(as_text=True)


def test_erasure_waits_for_monitoring_to_end(client, auth, users):
    decl = DeclarationFactory(id_number="079300003333")
    ArrivalFactory(declaration=decl, status="monitoring")
    db.session.commit()
    auth.login("admin1")
    token = csrf_token(client, "/quan-tri/yeu-cau-du-lieu")
    response = client.post("/quan-tri/yeu-cau-du-lieu/xoa", data={"csrf_token": token, "code": [decl.code],
                                                                 "reason": "Người dân yêu cầu xóa"})
    assert response.status_code == 422 and "vẫn đang được theo dõi" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Declaration, decl.id).id_number == "079300003333"
    assert events("dsr.erase") == []
