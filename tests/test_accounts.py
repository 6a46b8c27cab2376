"""Sign-in, roles, scopes, throttling, idle timeout and the admin account pages."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from kiemdich.accounts.operations import authenticate, create_user, lock_delay
from kiemdich.extensions import db
from kiemdich.models import AuditEvent, SignInFailure, User
from tests.conftest import csrf_token
from tests.factories import PASSWORD

def assert_sent_to_sign_in(response, came_from="/xa"):
    """A redirect to the sign-in page that brings the user back where they were: the target, not just 302."""
    assert response.status_code == 302
    target = urlsplit(response.location)
    # The idle sign-out builds `next` from request.full_path, which ends in "?" with no query string.
    nxt = [value.rstrip("?") for value in parse_qs(target.query).get("next", [])]
    assert target.path == "/dang-nhap" and nxt == [came_from], response.location


HOMES = {"admin": "/quan-tri/tai-khoan/", "supervisor": "/tinh", "checkpoint": "/chot/quet", "commune": "/xa"}
USERNAMES = {"admin": "admin1", "supervisor": "super1", "checkpoint": "chot1", "commune": "xa1"}


@pytest.mark.parametrize("role", HOMES)
def test_each_role_lands_on_its_home(client, auth, users, role):
    response = auth.login(USERNAMES[role])
    assert response.status_code == 302
    assert response.location.endswith(HOMES[role])
    assert client.get(HOMES[role]).status_code == 200
    assert client.get("/").location.endswith(HOMES[role])


@pytest.mark.parametrize("role", HOMES)
def test_each_role_is_refused_on_other_roles_pages(client, auth, users, role):
    auth.login(USERNAMES[role])
    for other, path in HOMES.items():
        if other != role:
            response = client.get(path)
            assert response.status_code == 403, (role, path)
            assert "Không có quyền truy cập" in response.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client):
    for path in HOMES.values():
        response = client.get(path)
        assert_sent_to_sign_in(response, path)


def test_wrong_password_is_refused_in_vietnamese(client, auth, users):
    response = auth.login("xa1", "wrong password")
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in response.get_data(as_text=True)
    assert_sent_to_sign_in(client.get("/xa"))


def _failures(username: str, source: str) -> int | None:
    return db.session.scalar(select(SignInFailure.failures).where(
        SignInFailure.username == username, SignInFailure.source == source))


def test_after_five_failures_the_name_waits_there_and_the_delay_grows(app, users):
    for _ in range(4):
        assert authenticate("xa1", "bad", source="10.0.0.1")[1] == "invalid"
    assert authenticate("xa1", "bad", source="10.0.0.1")[1] == "invalid"  # fifth failure: locked from now on
    assert authenticate("xa1", PASSWORD, source="10.0.0.1") == (None, "locked")  # even the right password waits
    assert _failures("xa1", "10.0.0.1") == 5 and _failures("xa1", "*") == 5
    assert lock_delay(5, 5, 30) == timedelta(seconds=30)
    assert lock_delay(6, 5, 30) == timedelta(seconds=60)
    assert lock_delay(8, 5, 30) == timedelta(seconds=240)
    assert lock_delay(4, 5, 30) == timedelta(0)


def test_an_attacker_elsewhere_cannot_lock_the_officer_out(app, users):
    """Wrong passwords from another address lock that address, not the officer's phone."""
    for _ in range(12):
        authenticate("xa1", "guess", source="203.0.113.9")
    assert authenticate("xa1", PASSWORD, source="203.0.113.9") == (None, "locked")
    user, reason = authenticate("xa1", PASSWORD, source="10.1.2.3")
    assert reason is None and user.username == "xa1"
    # and the success clears the account-wide count, not the attacker's own lock
    assert _failures("xa1", "*") is None and _failures("xa1", "203.0.113.9") == 12


def test_the_account_wide_ceiling_spares_a_browser_the_account_used_before(app, users):
    uid = users["commune"].id
    for i in range(8):  # many addresses, none reaching its own lock
        for _ in range(2):
            authenticate("xa1", "guess", source=f"198.51.100.{i}", account_free=16)
    assert _failures("xa1", "*") == 16
    assert authenticate("xa1", PASSWORD, source="10.1.2.3", account_free=16) == (None, "locked")
    user, reason = authenticate("xa1", PASSWORD, source="10.1.2.3", known={uid}, account_free=16)
    assert reason is None and user.id == uid


def _login_answer(client, username, password, ip):
    return client.post("/dang-nhap", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(client)},
                       environ_base={"REMOTE_ADDR": ip})


def test_unknown_and_known_names_get_the_same_answers(app, client, users):
    """Status and message, before and after the lock, are the same whether the account exists."""
    answers = {}
    for name in ("xa1", "khongai"):
        seen = []
        for _ in range(7):
            response = _login_answer(client, name, "wrong password", "192.0.2.7")
            text = response.get_data(as_text=True)
            message = ("Sai tên đăng nhập" in text, "Nhập sai quá nhiều lần" in text)
            seen.append((response.status_code, message))
        answers[name] = seen
    assert answers["xa1"] == answers["khongai"]
    assert [status for status, _ in answers["xa1"]] == [401] * 5 + [429] * 2
    assert _failures("khongai", "192.0.2.7") == 7


def test_unknown_names_pay_the_same_argon2_verification(app, users, monkeypatch):
    """The time of an answer cannot tell an account exists: both run one argon2 verification
    against a hash of the same parameters (counted here, not timed: the machine is shared)."""
    from kiemdich.accounts import operations

    calls = []
    real = operations.check_password
    monkeypatch.setattr(operations, "check_password", lambda h, p: calls.append(h[:30]) or real(h, p))
    authenticate("xa1", "wrong", source="192.0.2.8")
    authenticate("nobody", "wrong", source="192.0.2.8")
    for _ in range(6):  # and also once locked
        authenticate("xa1", "wrong", source="192.0.2.8")
        authenticate("nobody", "wrong", source="192.0.2.8")
    assert len(calls) == 14 and len(set(calls)) == 1


def test_a_failed_sign_in_keeps_the_typed_name_only_when_it_is_an_account(app, users):
    authenticate("correct horse battery", "xa1")  # the password typed into the name field
    authenticate("xa1", "wrong")
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")
                                .order_by(AuditEvent.id)).all()
    assert [e.username for e in events] == ["", "xa1"]
    assert all("horse" not in (e.detail or "") + e.username + e.object_id for e in events)


def test_locked_account_shows_wait_message(client, auth, users):
    for _ in range(5):
        auth.login("xa1", "bad")
    response = auth.login("xa1")
    assert response.status_code == 429
    assert "Nhập sai quá nhiều lần" in response.get_data(as_text=True)


def test_success_resets_failures_and_is_audited(app, users):
    authenticate("xa1", "bad", source="10.0.0.1")
    user, reason = authenticate("xa1", PASSWORD, source="10.0.0.1")
    assert reason is None and user.last_login_at is not None
    assert _failures("xa1", "10.0.0.1") is None
    db.session.commit()
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["auth.failed", "auth.login"]


def test_login_requires_csrf(client, users):
    response = client.post("/dang-nhap", data={"username": "xa1", "password": PASSWORD})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    assert_sent_to_sign_in(client.get("/xa"))


def test_idle_session_is_signed_out(app, client, auth, users):
    auth.login("xa1")
    assert client.get("/xa").status_code == 200
    with client.session_transaction() as session:
        session["seen"] -= app.config["KIEMDICH_IDLE_MINUTES"] * 60 + 5
    assert_sent_to_sign_in(client.get("/xa"))
    assert_sent_to_sign_in(client.get("/xa"))


def test_session_cookie_flags(app, client, auth, users):
    response = auth.login("xa1")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("insecure, secure", [(None, "True"), ("1", "False")])
def test_production_cookies_are_secure_by_default(insecure, secure):
    """Read in a fresh interpreter, so that the variable set (or not) in the test's own environment
    cannot make the test pass: it used to pass whenever KIEMDICH_INSECURE_COOKIES was set."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "KIEMDICH_INSECURE_COOKIES"}
    if insecure:
        env["KIEMDICH_INSECURE_COOKIES"] = insecure
    out = subprocess.run([sys.executable, "-c", "from kiemdich.config import Config; "
                          "print(Config.SESSION_COOKIE_SECURE, Config.REMEMBER_COOKIE_SECURE)"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [secure, secure]


def test_logout_ends_the_session(client, auth, users):
    auth.login("xa1")
    response = auth.logout()
    assert response.status_code == 302 and urlsplit(response.location).path == "/dang-nhap"
    assert "Bạn đã đăng xuất." in client.get(response.location).get_data(as_text=True)
    assert_sent_to_sign_in(client.get("/xa"))


def test_admin_issues_an_account_with_scope(client, auth, users):
    r = auth.login("admin1")
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    token = csrf_token(client, "/quan-tri/tai-khoan/moi")
    response = client.post("/quan-tri/tai-khoan/moi", data={
        "csrf_token": token, "username": "YTE.NghiaTrung", "full_name": "Phạm Thị Hoa", "role": "commune",
        "password": "mat khau dai 123", "area_province": "75", "area": ["25417"]})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "yte.nghiatrung"))
    assert user.role == "commune" and user.area_codes == ["25417"]
    assert user.password_hash.startswith("$argon2id$")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.create")).username == "admin1"
    client.post("/dang-xuat", data={"csrf_token": csrf_token(client, "/quan-tri/tai-khoan/")})
    assert AuthLogin(client)("yte.nghiatrung", "mat khau dai 123").location.endswith("/xa")


def AuthLogin(client):
    def login(username, password):
        return client.post("/dang-nhap", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(client)})
    return login


def test_admin_form_errors_are_vietnamese_and_create_nothing(client, auth, users):
    auth.login("admin1")
    before = db.session.scalar(select(db.func.count()).select_from(User))
    response = client.post("/quan-tri/tai-khoan/moi", data={
        "csrf_token": csrf_token(client, "/quan-tri/tai-khoan/moi"), "username": "xa1", "role": "commune",
        "password": "short"})
    assert response.status_code == 422
    assert "Ít nhất 10 ký tự." in response.get_data(as_text=True)
    response = client.post("/quan-tri/tai-khoan/moi", data={
        "csrf_token": csrf_token(client, "/quan-tri/tai-khoan/moi"), "username": "xa1", "role": "commune",
        "password": "long enough password", "area": ["25210"]})
    assert response.status_code == 422
    assert "đã có người dùng" in response.get_data(as_text=True)
    response = client.post("/quan-tri/tai-khoan/moi", data={
        "csrf_token": csrf_token(client, "/quan-tri/tai-khoan/moi"), "username": "newxa", "role": "commune",
        "password": "long enough password"})
    assert response.status_code == 422
    assert "Chọn ít nhất một địa bàn" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(User)) == before


def test_supervisor_without_commune_covers_the_province(app, users):
    user = create_user("tinh2", "long enough password", "supervisor", area_codes=["75"])
    from kiemdich.accounts.scope import commune_codes

    assert len(commune_codes(user)) == 96 and "25417" in commune_codes(user)


def test_password_reset_ends_open_sessions(app, users):
    admin_client, officer_client = app.test_client(), app.test_client()
    AuthLogin(admin_client)("admin1", PASSWORD)
    AuthLogin(officer_client)("xa1", PASSWORD)
    assert officer_client.get("/xa").status_code == 200
    uid = users["commune"].id
    response = admin_client.post(f"/quan-tri/tai-khoan/{uid}/mat-khau", data={
        "csrf_token": csrf_token(admin_client, f"/quan-tri/tai-khoan/{uid}/mat-khau"),
        "password": "brand new password"})
    assert response.status_code == 302
    assert_sent_to_sign_in(officer_client.get("/xa"))  # old session no longer valid
    assert AuthLogin(officer_client)("xa1", "brand new password").location.endswith("/xa")


def test_deactivation_is_idempotent_and_blocks_sign_in(app, users):
    admin_client, officer_client = app.test_client(), app.test_client()
    AuthLogin(admin_client)("admin1", PASSWORD)
    AuthLogin(officer_client)("xa1", PASSWORD)
    uid = users["commune"].id
    for _ in range(2):  # double tap
        admin_client.post(f"/quan-tri/tai-khoan/{uid}/kich-hoat", data={
            "csrf_token": csrf_token(admin_client, "/quan-tri/tai-khoan/"), "active": "0"})
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "account.deactivate")) == 1
    assert_sent_to_sign_in(officer_client.get("/xa"))
    response = AuthLogin(officer_client)("xa1", PASSWORD)
    assert "đã bị khóa" in response.get_data(as_text=True)


def test_admin_cannot_deactivate_self(client, auth, users):
    auth.login("admin1")
    client.post(f"/quan-tri/tai-khoan/{users['admin'].id}/kich-hoat",
                data={"csrf_token": csrf_token(client, "/quan-tri/tai-khoan/"), "active": "0"})
    assert db.session.get(User, users["admin"].id).active


def test_open_redirect_is_refused(client, users):
    response = client.post("/dang-nhap?next=//evil.example/", data={
        "username": "xa1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.location.endswith("/xa")
