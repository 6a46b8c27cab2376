"""Issue 11 item 8 in the browser: two communes picked one after the other (with a search in
between) and two checkpoints are all saved; a validation error keeps them."""
import re

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import User
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, CheckpointFactory


def test_admin_picks_two_communes_in_turn_and_two_checkpoints(page, users):
    CheckpointFactory(commune_code="25210", name="Chốt Đồng Xoài")
    CheckpointFactory(commune_code="25417", name="Chốt Nghĩa Trung")
    db.session.commit()
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("admin1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.goto("/quan-tri/tai-khoan/moi")
    page.get_by_label("Tên đăng nhập").fill("yte.hai")
    page.get_by_label("Mật khẩu").fill("short")
    communes = page.get_by_label("Xã, phường", exact=True)
    chosen = page.locator("#area-chosen input[name=area]:checked")
    page.get_by_label("Tìm xã, phường").fill("dong xoai")
    expect(communes.locator("option", has_text="Phường Đồng Xoài")).to_have_count(1)
    communes.select_option(label="Phường Đồng Xoài")
    expect(chosen).to_have_count(1)
    page.get_by_label("Tìm xã, phường").fill("nghia trung")
    expect(communes.locator("option", has_text="Xã Nghĩa Trung")).to_have_count(1)
    communes.select_option(label="Xã Nghĩa Trung")
    expect(chosen).to_have_count(2)
    expect(page.locator("#area-chosen")).to_contain_text("Phường Đồng Xoài")
    page.get_by_label("Chốt Đồng Xoài").check()
    page.get_by_label("Chốt Nghĩa Trung").check()
    page.get_by_role("button", name="Tạo tài khoản").click()

    expect(page.get_by_text("Ít nhất 10 ký tự.")).to_be_visible()  # the password was too short
    expect(chosen).to_have_count(2)
    expect(page.get_by_label("Chốt Nghĩa Trung")).to_be_checked()
    screenshot(page, "accounts-two-communes-after-error")
    page.get_by_label("Mật khẩu").fill("mat khau dai 123")
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page).to_have_url(re.compile(r"/quan-tri/tai-khoan/$"))
    user = db.session.scalar(select(User).where(User.username == "yte.hai"))
    assert sorted(user.area_codes) == ["25210", "25417"]
    assert [e for e in page.console_errors if "status of 422" not in e] == []  # the refused form is a 422
