"""Sign-in and sign-out against the real gunicorn process (2 workers x 8 threads on a loopback port
it picks itself), as deployed: a session cookie copied before sign-out and replayed afterwards with
a plain HTTP client is refused; sixteen simultaneous wrong passwords on PostgreSQL are all counted."""
import http.client
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import SignInFailure
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
LISTENING = re.compile(rb"Listening at: http://127\.0\.0\.1:(\d+)")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


@pytest.fixture
def server(app, users, tmp_path):
    """gunicorn serving app:app on the test database with the test app's secret key; yields its URL."""
    db.session.commit()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY=app.secret_key,
               KIEMDICH_INSTANCE=app.instance_path, KIEMDICH_INSECURE_COOKIES="1")
    if not os.environ.get("REDIS_URL"):
        env.pop("REDIS_URL", None)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(GUNICORN), "--bind", "127.0.0.1:0", "--workers", "2", "--threads", "8",
                                 "--log-level", "info", "--no-control-socket", "app:app"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url, status, deadline = None, None, time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            match = LISTENING.search(log.read_bytes())
            if match:
                url = f"http://127.0.0.1:{int(match.group(1))}"
                try:
                    status = requests.get(url + "/dang-nhap", timeout=5).status_code
                except requests.RequestException as err:
                    status = err
                if status == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"gunicorn did not start ({status}):\n" + log.read_text(errors="replace")[-3000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        db.session.rollback()


def csrf(session: requests.Session, url: str) -> str:
    match = CSRF.search(session.get(url, headers={"Connection": "close"}).text)  # no idle keep-alive to reuse
    assert match, url
    return match.group(1) or match.group(2)


def sign_in(url: str, username: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    response = browser.post(url + "/dang-nhap", allow_redirects=False, data={
        "username": username, "password": password, "csrf_token": csrf(browser, url + "/dang-nhap")})
    assert response.status_code == 302, response.text[-500:]
    return browser


def replay(url: str, cookie: str, path: str) -> tuple[int, str]:
    """A plain HTTP/1.1 GET carrying only the copied cookie."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    conn.request("GET", path, headers={"Cookie": f"session={cookie}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("Location") or ""


def test_a_copied_cookie_is_refused_after_sign_out(server):
    officer = sign_in(server, "xa1")
    copied = officer.cookies["session"]
    assert replay(server, copied, "/xa") == (200, "")
    response = officer.post(server + "/dang-xuat", data={"csrf_token": csrf(officer, server + "/xa")},
                            allow_redirects=False)
    assert response.status_code == 302
    status, location = replay(server, copied, "/xa")
    assert status == 302 and location.startswith("/dang-nhap")


def test_an_admin_ends_every_session_of_an_account(server, users):
    officer = sign_in(server, "xa1")
    copied = officer.cookies["session"]
    admin = sign_in(server, "admin1")
    token = csrf(admin, server + "/quan-tri/tai-khoan/")
    response = admin.post(f"{server}/quan-tri/tai-khoan/{users['commune'].id}/dang-xuat",
                          data={"csrf_token": token}, allow_redirects=False)
    assert response.status_code == 302
    assert officer.get(server + "/xa", allow_redirects=False).status_code == 302
    assert replay(server, copied, "/xa")[0] == 302


def test_sixteen_simultaneous_wrong_passwords_are_all_counted(app, server):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the lost-update race is PostgreSQL's (SQLite writes one at a time)")
    browsers = [requests.Session() for _ in range(16)]
    tokens = [csrf(b, server + "/dang-nhap") for b in browsers]
    start, statuses = threading.Barrier(16), []

    def attempt(browser, token):
        start.wait()
        statuses.append(browser.post(server + "/dang-nhap", allow_redirects=False, data={
            "username": "xa1", "password": "not the password", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(browsers, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 16 and set(statuses) <= {401, 429}
    db.session.rollback()
    counts = dict(db.session.execute(select(SignInFailure.source, SignInFailure.failures)
                                     .where(SignInFailure.username == "xa1")).all())
    assert counts == {"127.0.0.1": 16, "*": 16}
    # and the address is now locked, even for the right password
    response = browsers[0].post(server + "/dang-nhap", allow_redirects=False, data={
        "username": "xa1", "password": PASSWORD, "csrf_token": tokens[0]})
    assert response.status_code == 429
