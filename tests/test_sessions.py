"""Sessions end on the server: sign-out, "sign out everywhere" (by the user or an admin), the hard
end after KIEMDICH_SESSION_HOURS whatever the activity; the outbox's replay meeting an ended session
is sent to sign in (it keeps the item); `next` never leaves the site."""
import re
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import AuditEvent, Passage, UserSession
from tests.conftest import csrf_token
from tests.factories import AreaLevelFactory, DeclarationFactory, PASSWORD


def sign_in(app, username: str):
    client = app.test_client()
    response = client.post("/dang-nhap", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[-400:]
    return client


def copy_of(app, client):
    """Another client holding a copy of `client`'s session cookie (as an attacker who read it)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def sign_out(client, **extra):
    return client.post("/dang-xuat", data={"csrf_token": csrf_token(client, "/xa"), **extra})


def is_signed_out(client, path="/xa") -> bool:
    response = client.get(path)
    return response.status_code == 302 and response.location.startswith("/dang-nhap")


# Sign-out ------------------------------------------------------------------------------------------

def test_a_cookie_copied_before_sign_out_is_refused_afterwards(app, users):
    officer = sign_in(app, "xa1")
    thief = copy_of(app, officer)
    assert thief.get("/xa").status_code == 200  # the copy works while the session is open
    response = sign_out(officer)
    assert response.status_code == 302 and response.location.startswith("/dang-nhap")
    assert is_signed_out(thief)
    assert is_signed_out(officer)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "auth.logout")) == 1


def test_signing_out_on_one_phone_leaves_the_other_sign_ins(app, users):
    phone, desk = sign_in(app, "xa1"), sign_in(app, "xa1")
    sign_out(phone)
    assert is_signed_out(phone)
    assert desk.get("/xa").status_code == 200


def test_sign_out_everywhere_by_the_user(app, users):
    phone, desk = sign_in(app, "xa1"), sign_in(app, "xa1")
    stolen = copy_of(app, phone)
    page = desk.get("/phien-dang-nhap").get_data(as_text=True)
    assert "Đăng xuất trên mọi thiết bị" in page and "Phiên đăng nhập này kết thúc lúc" in page
    response = sign_out(desk, everywhere="1")
    assert response.status_code == 302
    assert is_signed_out(phone) and is_signed_out(stolen) and is_signed_out(desk)
    assert "Bạn đã đăng xuất trên mọi thiết bị." in desk.get("/dang-nhap").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.ended_at.is_(None))) == 0
    assert sign_in(app, "xa1").get("/xa").status_code == 200  # and can sign in again


def test_an_admin_signs_another_account_out_everywhere(app, users):
    officer = sign_in(app, "xa1")
    admin = sign_in(app, "admin1")
    uid = users["commune"].id
    index = admin.get("/quan-tri/tai-khoan/").get_data(as_text=True)
    assert f'action="/quan-tri/tai-khoan/{uid}/dang-xuat"' in index
    response = admin.post(f"/quan-tri/tai-khoan/{uid}/dang-xuat",
                          data={"csrf_token": csrf_token(admin, "/quan-tri/tai-khoan/")})
    assert response.status_code == 302 and response.location.endswith("/quan-tri/tai-khoan/")
    assert is_signed_out(officer)
    assert admin.get("/quan-tri/tai-khoan/").status_code == 200  # the admin's own session goes on
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.sign_out_everywhere"))
    assert event.username == "admin1" and event.object_id == str(uid)


def test_other_roles_cannot_sign_someone_else_out(app, users):
    officer = sign_in(app, "xa1")
    other = sign_in(app, "super1")
    response = other.post(f"/quan-tri/tai-khoan/{users['commune'].id}/dang-xuat",
                          data={"csrf_token": csrf_token(other, "/tinh")})
    assert response.status_code == 403
    assert officer.get("/xa").status_code == 200


# The hard end --------------------------------------------------------------------------------------

def test_a_sign_in_ends_after_the_session_hours_whatever_the_activity(app, users):
    officer = sign_in(app, "xa1")
    hours = app.config["PERMANENT_SESSION_LIFETIME"]
    assert officer.get("/xa").status_code == 200
    # Used a minute ago (never idle), but signed in longer ago than the session hours.
    with officer.session_transaction() as session:
        session["signed_in"] -= hours.total_seconds() + 60
        session["seen"] = clock.utcnow().timestamp() - 60
    response = officer.get("/xa")
    assert response.status_code == 302 and response.location.startswith("/dang-nhap")
    assert "Phiên đăng nhập đã hết sau 12 giờ" in officer.get(response.location).get_data(as_text=True)
    assert is_signed_out(officer)


def test_the_server_keeps_the_hard_end_too(app, users):
    """The session row ends at sign-in + the session hours, whatever the cookie says."""
    officer = sign_in(app, "xa1")
    row = db.session.scalar(select(UserSession))
    assert row.expires_at - row.created_at == app.config["PERMANENT_SESSION_LIFETIME"]
    row.expires_at = clock.utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert is_signed_out(officer)


def test_a_session_without_a_sign_in_time_is_refused(app, users):
    """A cookie from before this change (no sign-in time) ends once, rather than living on."""
    officer = sign_in(app, "xa1")
    with officer.session_transaction() as session:
        del session["signed_in"]
    assert is_signed_out(officer)


# The outbox's replay ---------------------------------------------------------------------------------

def _passage(client, csrf, checkpoint, token, uid):
    return client.post("/chot/qua-chot", data={"chot": checkpoint.code, "token": token, "decision": "allow",
                                               "test_taken": "none"},
                       headers={"X-CSRFToken": csrf, "HX-Request": "true", "Idempotency-Key": uid, "X-Outbox": "1"})


@pytest.mark.parametrize("how", ["everywhere", "hard_end"])
def test_a_replay_meeting_an_ended_session_is_sent_to_sign_in_and_kept(app, users, how):
    """What outbox.js reads: a redirect (opaque to fetch) or a 401 from /dong-bo/phien means "keep the
    item and ask to sign in"; once signed in again the same item is written once."""
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory()
    db.session.commit()
    token = declarations.token_for(decl)
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint
    phone = sign_in(app, "chot1")
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', phone.get("/chot/quet").get_data(as_text=True)).group(1)
    if how == "everywhere":
        sign_out(sign_in(app, "chot1"), everywhere="1")  # from another device
    else:
        with phone.session_transaction() as session:
            session["signed_in"] -= app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() + 1
    uid = str(uuid.uuid4())
    response = _passage(phone, csrf, checkpoint, token, uid)
    assert response.status_code == 302 and response.location.startswith("/dang-nhap")
    assert phone.get("/dong-bo/phien").status_code == 401
    assert db.session.scalar(select(func.count()).select_from(Passage)) == 0
    phone = sign_in(app, "chot1")
    fresh = phone.get("/dong-bo/phien").get_json()["csrf"]
    assert _passage(phone, fresh, checkpoint, token, uid).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Passage)) == 1


# Where sign-in sends you ----------------------------------------------------------------------------

HOSTILE_NEXT = [
    "/%09/evil.example/phish",  # a tab the browser drops: //evil.example/phish
    "/%0D%0A/x",  # CR LF: a header injection, and //x
    "/%0A/evil.example", "%20//evil.example", "%09//evil.example",
    quote("//evil.example/"), quote("///evil.example/"), quote("/\\evil.example"), quote("\\\\evil.example"),
    quote("/\t\\evil.example"), quote("\\/evil.example"), "/%5C%5Cevil.example",
    quote("https://evil.example/"), quote("http:/evil.example"), quote("javascript:alert(1)"),
    quote("data:text/html,<b>x</b>"), quote("evil.example/x"), "", quote("/\x7f/evil.example"),
    "/%00/evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_outside_the_site_falls_back_to_the_roles_home(client, users, target):
    response = client.post(f"/dang-nhap?next={target}", data={
        "username": "xa1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    if target == "/%00/evil.example":  # NUL anywhere is refused before any view runs
        assert response.status_code == 400
        return
    assert response.status_code == 302, target
    assert response.location == "/xa", (target, response.location)


@pytest.mark.parametrize("target, lands", [
    ("/xa/ds/due", "/xa/ds/due"),
    (quote("/xa/ds/due?q=Nguyễn Văn"), "/xa/ds/due?q=Nguy%E1%BB%85n%20V%C4%83n"),
    ("/", "/xa"),
])
def test_next_on_the_site_is_followed(client, users, target, lands):
    response = client.post(f"/dang-nhap?next={target}", data={
        "username": "xa1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.location == lands


def test_signing_in_again_over_an_ended_session_is_not_sent_back_to_the_form(app, users):
    """The password typed on a phone whose old sign-in ended is not lost to a redirect."""
    officer = sign_in(app, "xa1")
    with officer.session_transaction() as session:
        session["signed_in"] -= app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() + 1
    response = officer.post("/dang-nhap", data={"username": "xa1", "password": PASSWORD,
                                                "csrf_token": csrf_token(officer)})
    assert response.status_code == 302 and response.location == "/xa"
    assert officer.get("/xa").status_code == 200
