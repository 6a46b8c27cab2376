"""A supervisor imports a list on a phone: upload, columns, dry run (screenshot), write."""
import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.models import Arrival, Checkpoint
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD
from tests.factories_imports import person, xlsx


def test_import_wizard_dry_run_then_write(page, users, app, tmp_path):
    checkpoint = db.session.scalar(select(Checkpoint))
    rows = [person(1), person(2, dest="Xã Đức Liễu, Huyện Bù Đăng, Tỉnh Bình Phước"),
            person(3, dest="Phường 1, Quận 3, TP Hồ Chí Minh"), person(4, name=""), person(5, dest="Ấp 3"),
            person(1)]
    path = tmp_path / "danh-sach-qua-chot.xlsx"
    path.write_bytes(xlsx(rows, title=["DANH SÁCH NGƯỜI QUA CHỐT", "Ngày 05/10/2021"]))

    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("super1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.get_by_role("link", name="Nhập Excel").click()
    expect(page.get_by_role("heading", name="Nhập danh sách").first).to_be_visible()
    page.get_by_label("Tệp").set_input_files(str(path))
    page.get_by_label("Chốt của danh sách này").select_option(str(checkpoint.id))
    page.get_by_role("button", name="Tải lên và đọc").click()

    expect(page.get_by_role("heading", name="Các cột")).to_be_visible(timeout=15000)
    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value("full_name")
    screenshot(page, "import-columns")
    page.get_by_role("button", name="Chạy thử").click()

    expect(page.get_by_role("heading", name="Chạy thử: chưa ghi gì")).to_be_visible(timeout=15000)
    expect(page.get_by_text("Thiếu họ và tên.")).to_be_visible()
    screenshot(page, "import-dry-run")
    assert db.session.scalar(select(func.count()).select_from(Arrival)) == 0

    page.get_by_role("button", name=re.compile(r"^Ghi \d+ dòng$")).click()
    expect(page.get_by_role("heading", name=re.compile("^Đã nhập"))).to_be_visible(timeout=15000)
    screenshot(page, "import-committed")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Arrival)) == 2
    assert page.console_errors == []
