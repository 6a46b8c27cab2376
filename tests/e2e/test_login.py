"""A commune officer signs in on a phone and lands on their Vietnamese home page."""
import re

from playwright.sync_api import expect

from kiemdich.extensions import db
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, ArrivalFactory


def test_commune_officer_signs_in_and_sees_home(page, users, app):
    ArrivalFactory(status="expected")
    ArrivalFactory(status="monitoring", flagged=True)
    db.session.commit()

    page.goto("/xa")  # not signed in: sent to the sign-in page
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    page.get_by_label("Tên đăng nhập").fill("xa1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")

    expect(page).to_have_url(re.compile(r"/xa$"))
    expect(page.get_by_role("heading", name="Người đến địa bàn")).to_be_visible()
    expect(page.get_by_text("Phường Đồng Xoài")).to_be_visible()
    expect(page.get_by_text("1 người có triệu chứng")).to_be_visible()
    expect(page.locator(".tile.expected .n")).to_have_text("1")
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded under the CSP
    screenshot(page, "commune-home")
    assert page.console_errors == []


def test_wrong_password_shows_vietnamese_error(page, users):
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("xa1")
    page.get_by_label("Mật khẩu").fill("sai mật khẩu")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_text("Sai tên đăng nhập hoặc mật khẩu.")).to_be_visible()
