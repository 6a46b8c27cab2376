"""An admin issues an account on a phone, using the cascading commune picker (HTMX under the CSP)."""
import re

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import User
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD


def test_admin_creates_a_commune_officer_with_the_picker(page, users):
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("admin1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.get_by_role("link", name="Tạo tài khoản").click()

    page.get_by_label("Tên đăng nhập").fill("yte.nghiatrung")
    page.get_by_label("Họ và tên").fill("Phạm Thị Hoa")
    page.get_by_label("Mật khẩu").fill("mat khau dai 123")
    # Accent-free search narrows the commune list through an HTMX request.
    page.get_by_label("Tìm xã, phường").fill("NGHIA TRUNG")
    communes = page.get_by_label("Xã, phường", exact=True)
    expect(communes.locator("option:not([value=''])")).to_have_count(1)
    expect(communes.locator("option:not([value=''])")).to_have_text("Xã Nghĩa Trung")
    communes.select_option("25417")
    # Changing the province reloads the list for that province.
    page.get_by_label("Tỉnh, thành phố").select_option("79")
    expect(communes.locator("option", has_text="Phường Vũng Tàu")).to_have_count(0)  # search still applies
    page.get_by_label("Tìm xã, phường").fill("")
    expect(communes.locator("option", has_text="Phường Vũng Tàu")).to_have_count(1)
    page.get_by_label("Tỉnh, thành phố").select_option("75")
    page.get_by_label("Tìm xã, phường").fill("nghĩa trung")
    expect(communes.locator("option:not([value=''])")).to_have_count(1)
    communes.select_option("25417")
    screenshot(page, "admin-new-account")
    page.get_by_role("button", name="Tạo tài khoản").click()

    expect(page.get_by_text("Đã tạo tài khoản yte.nghiatrung.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/quan-tri/tai-khoan/$"))
    user = db.session.scalar(select(User).where(User.username == "yte.nghiatrung"))
    assert user.area_codes == ["25417"]
    assert page.console_errors == []
