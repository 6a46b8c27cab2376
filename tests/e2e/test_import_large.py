"""20,000 rows through the real wizard on PostgreSQL: gunicorn serves, huey_consumer runs the jobs,
and the progress bar advances while the file is read, dry-run and written (it used to stay
"reading" for ever past 2,000 rows: the progress update waited on the job's own row lock)."""
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import func, select

from kiemdich import tasks
from kiemdich.extensions import db
from kiemdich.models import Arrival, Checkpoint, Declaration
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import PASSWORD
from tests.factories_imports import person, xlsx
from tests.test_queue import Consumer

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(app, database_url, tmp_path):
    """gunicorn (2 workers) and a consumer on the test's PostgreSQL database; yields the base URL."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the 20,000-row import is a PostgreSQL test (the lock it guards against is PostgreSQL's)")
    tasks.use_sqlite_file(tmp_path / "huey.db")
    db.engine.dispose()
    consumer = Consumer(database_url, tmp_path, lease=30).start()
    port = free_port()
    env = {**consumer.env, "KIEMDICH_INSECURE_COOKIES": "1"}
    web = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                            "--threads", "4", "app:app"], env=env, cwd=ROOT, start_new_session=True,
                           stdout=(tmp_path / "gunicorn.log").open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    web.terminate()
    web.wait(20)
    consumer.stop()
    tasks.huey.immediate = True


def bar_values(page, step_heading: str, until, timeout=300) -> list[int]:
    """The progress bar's values while a step runs, read as the page polls, until `until` shows."""
    seen = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if until.is_visible():
            return seen
        # Read in one go: the section is swapped every second and is gone when the step ends.
        try:
            heading, value = page.evaluate(
                "() => { const s = document.querySelector('#progress');"
                " const b = s && s.querySelector('progress.bar');"
                " return [s ? s.querySelector('h2').textContent.trim() : null, b ? b.getAttribute('value') : null]; }")
        except PlaywrightError as err:  # the step ended and the page is loading the next one
            if "context was destroyed" not in str(err):
                raise
            time.sleep(0.2)
            continue
        if heading == step_heading and value and (not seen or int(value) != seen[-1]):
            seen.append(int(value))
            if len(seen) == 2:
                screenshot(page, "import-large-progress")
        time.sleep(0.2)
    raise AssertionError(f"{step_heading}: never finished; bar values {seen}")


def test_twenty_thousand_rows_through_the_wizard_with_the_bar_advancing(browser, served, users, tmp_path):
    checkpoint = db.session.scalar(select(Checkpoint))
    path = tmp_path / "danh-sach-20000.xlsx"
    path.write_bytes(xlsx([person(i) for i in range(1, ROWS + 1)], title=["DANH SÁCH NGƯỜI QUA CHỐT"]))
    context = browser.new_context(viewport=PHONE, base_url=served, locale="vi-VN", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("super1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.goto("/nhap/")
    page.get_by_label("Tệp").set_input_files(str(path))
    page.get_by_label("Chốt của danh sách này").select_option(str(checkpoint.id))
    page.get_by_role("button", name="Tải lên và đọc").click()

    read = bar_values(page, "Đang đọc tệp…", page.get_by_role("heading", name="Các cột"))
    # Reading streams 20,000 rows in a few seconds: the bar may show one value or none before the
    # columns step; it never goes back. Dry run and write are long enough to see it advance.
    assert read == sorted(read) and all(v <= ROWS for v in read), read
    page.get_by_role("button", name="Chạy thử").click()
    dry = bar_values(page, "Đang chạy thử…", page.get_by_role("heading", name="Chạy thử: chưa ghi gì"))
    assert dry == sorted(dry), dry  # the dry run of 20,000 rows may also take a poll or two only
    page.get_by_role("button", name=re.compile(r"^Ghi [\d.,]+ dòng$")).click()
    written = bar_values(page, "Đang ghi…", page.get_by_role("heading", name=re.compile("^Đã nhập")), timeout=600)
    assert written == sorted(written), written
    assert len(written) >= 2 and len(read) + len(dry) + len(written) >= 3, (read, dry, written)  # it advanced
    screenshot(page, "import-large-done")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == ROWS
    assert db.session.scalar(select(func.count()).select_from(Arrival)) == ROWS
    assert errors == []
    context.close()


def test_an_interrupted_import_is_resumed_from_its_page(page, users, app):
    """What the supervisor sees after the consumer died mid-commit: the message, Resume, Cancel."""
    from kiemdich.models import ImportJob
    from tests.test_imports import dry

    checkpoint = db.session.scalar(select(Checkpoint))
    batch = dry(xlsx([person(i) for i in range(1, 4)]), users["supervisor"], checkpoint)
    db.session.add(ImportJob(batch_id=batch.id, job="commit", attempts=1, user_id=users["supervisor"].id))
    batch.status, batch.error = "failed", "interrupted:commit"
    db.session.commit()
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("super1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.goto(f"/nhap/{batch.id}")
    expect(page.get_by_role("heading", name="Bị gián đoạn")).to_be_visible()
    expect(page.get_by_text("Công việc đã dừng khi đang ghi dữ liệu")).to_be_visible()
    screenshot(page, "import-interrupted")
    page.get_by_role("button", name="Tiếp tục").click()  # the queue runs in immediate mode here
    expect(page.get_by_role("heading", name=re.compile("^Đã nhập"))).to_be_visible(timeout=15000)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 3
    assert page.console_errors == []
