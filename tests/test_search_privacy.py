"""No personal data in URLs (issue 12, item 6): the real gunicorn with its access log, every search
of every role that can carry a name, a phone or an ID number, and none of them in the log.

The searches: checkpoint staff's lookup by phone and by ID number (and the card it opens); a
commune officer's list search by name and by phone on every list, its non-script form, and the
next page of a searched list; an admin's data-subject request search. Supervisors have no search
by name, phone or ID (their filters are areas, dates, checkpoints and officers' user names)."""
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import requests

from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.followup import lists
from kiemdich.text import fold
from tests.factories import PASSWORD, AreaLevelFactory, DeclarationFactory

ROOT = Path(__file__).resolve().parent.parent
NAME, PHONE, ID_NUMBER = "Đoàn Thị Xuyến", "0987111222", "079111222333"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(app, tmp_path):
    """The app under gunicorn on a free loopback port, its access log in a file; stopped after."""
    port, log = _free_port(), tmp_path / "access.log"
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], KIEMDICH_INSTANCE=app.instance_path,
               KIEMDICH_INSECURE_COOKIES="1")
    db.session.commit()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:app", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--access-logfile", str(log), "--error-logfile", str(tmp_path / "error.log")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/dang-nhap", timeout=15)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.3)
        yield base, log
    finally:
        proc.terminate()
        proc.wait(20)


def _signed_in(base: str, username: str) -> tuple[requests.Session, str]:
    """A session signed in as `username` and the CSRF token its pages carry."""
    s = requests.Session()
    page = s.get(base + "/dang-nhap").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    done = s.post(base + "/dang-nhap", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert done.status_code == 200 and "/dang-nhap" not in done.url, done.url
    return s, re.search(r'"X-CSRFToken": "([^"]+)"', done.text).group(1)


def test_no_name_phone_or_id_number_reaches_the_access_log(app, users, gunicorn):
    base, log = gunicorn
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory(full_name=NAME, search_name=fold(NAME), phone=PHONE, id_number=ID_NUMBER,
                              dest_commune_code="25210")
    db.session.commit()
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint

    # Checkpoint staff: the lookup by phone and by ID number, the card it opens, the passage.
    staff, csrf = _signed_in(base, "chot1")
    htmx = {"X-CSRFToken": csrf, "HX-Request": "true"}
    staff.get(base + "/chot/quet")
    for query in (PHONE, "0987 111 222", ID_NUMBER):
        found = staff.post(base + "/chot/quet/tim", data={"chot": checkpoint.code, "q": query}, headers=htmx)
        assert found.status_code == 200 and NAME in found.text, query
    card = staff.post(base + "/chot/quet/xem", data={"chot": checkpoint.code, "code": decl.code}, headers=htmx)
    assert NAME in card.text
    passage = staff.post(base + "/chot/qua-chot", headers=htmx | {"Idempotency-Key": str(uuid.uuid4())},
                         data={"chot": checkpoint.code, "token": declarations.token_for(decl), "decision": "allow",
                               "test_taken": "none", "shown": "conditions"})
    assert passage.status_code == 201

    # Commune officer: every list searched by name (with and without diacritics) and by phone,
    # by script (the rows) and without (the whole panel), and the next page of a searched list.
    officer, csrf = _signed_in(base, "xa1")
    htmx = {"X-CSRFToken": csrf, "HX-Request": "true"}
    hits = 0
    for key in lists.KEYS:
        for query in (NAME, fold(NAME), "Xuyến", PHONE):
            rows = officer.post(f"{base}/xa/ds/{key}/dong", data={"q": query}, headers=htmx)
            assert rows.status_code == 200, (key, query)
            hits += NAME in rows.text
        panel = officer.post(f"{base}/xa/ds/{key}", data={"q": PHONE, "csrf_token": csrf})
        assert panel.status_code == 200 and 'name="q"' in panel.text
        assert officer.post(f"{base}/xa/ds/{key}/dong", data={"q": NAME, "trang": "2"}, headers=htmx).status_code == 200
    assert hits >= 4  # the arrival was found: the searches really carried the name and the phone

    # Admin: the data-subject request search (by ID number, phone, name) and its export.
    admin, csrf = _signed_in(base, "admin1")
    for field, value in (("id_number", ID_NUMBER), ("phone", PHONE), ("name", NAME)):
        found = admin.post(base + "/quan-tri/yeu-cau-du-lieu", data={"csrf_token": csrf, field: value})
        assert found.status_code == 200 and NAME in found.text, field
    assert admin.post(base + "/quan-tri/yeu-cau-du-lieu/xuat",
                      data={"csrf_token": csrf, "code": decl.code}).status_code == 200

    time.sleep(0.5)  # gunicorn writes each line as the request ends
    text = log.read_text()
    assert "POST /chot/quet/tim" in text and "POST /xa/ds/expected/dong" in text
    decoded = unquote_plus(text).lower()
    for secret in (PHONE, "987111222", "0987 111 222", ID_NUMBER, "111222333", NAME.lower(), fold(NAME).lower(),
                   "xuyến", "xuyen"):
        assert secret.lower() not in decoded, secret
