"""Sessions ended on the server, in a real browser: the user's own "sign out on every device" page,
and a checkpoint phone whose session an admin ended while it was offline with queued passages (the
items stay, the banner asks to sign in, they go once signed in again)."""
import re

from playwright.sync_api import expect

from kiemdich.accounts.operations import end_every_session
from kiemdich.extensions import db
from tests.e2e.conftest import screenshot
from tests.e2e.test_scan import _confirm_offline, _context, _passages, _travellers, server  # noqa: F401
from tests.factories import PASSWORD


def test_the_user_signs_out_on_every_device(page, users, browser, live_server):
    other = browser.new_context(base_url=live_server)  # the same account on another device
    desk = other.new_page()
    for tab in (page, desk):
        tab.goto("/dang-nhap")
        tab.get_by_label("Tên đăng nhập").fill("xa1")
        tab.get_by_label("Mật khẩu").fill(PASSWORD)
        tab.get_by_label("Mật khẩu").press("Enter")
        expect(tab).to_have_url(re.compile(r"/xa$"))
    page.locator("header .who").click()
    expect(page.get_by_role("heading", name="Phiên đăng nhập của bạn")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Phiên đăng nhập này kết thúc lúc")
    screenshot(page, "session-page")
    page.get_by_role("button", name="Đăng xuất trên mọi thiết bị").click()
    expect(page).to_have_url(re.compile(r"/dang-nhap$"))
    expect(page.locator(".flash")).to_contain_text("Bạn đã đăng xuất trên mọi thiết bị.")
    screenshot(page, "session-signed-out-everywhere")
    desk.goto("/xa")
    expect(desk).to_have_url(re.compile(r"/dang-nhap\?next="))
    other.close()
    assert page.console_errors == []


def test_session_ended_by_an_admin_while_offline_keeps_the_items_until_sign_in(browser, app, users, server):  # noqa: F811
    people = _travellers(3)
    context = _context(browser, server)
    page = context.new_page()
    _confirm_offline(page, context, server, people)

    # Meanwhile an admin signs the account out everywhere (a lost phone?); its cookie is still there.
    end_every_session(users["checkpoint"], by=users["admin"])
    db.session.commit()
    server.start()
    context.set_offline(False)
    banner = page.locator("[data-outbox-banner]")
    expect(banner.locator("[data-outbox-auth]")).to_be_visible(timeout=20000)
    expect(banner).to_contain_text("3 chưa đồng bộ")
    screenshot(page, "scan-session-ended-by-admin")
    assert _passages() == []

    banner.get_by_role("link", name="Đăng nhập").click()
    page.get_by_label("Tên đăng nhập").fill("chot1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/chot/quet$"))
    expect(page.locator("[data-outbox-banner]")).to_contain_text("Đã đồng bộ hết", timeout=20000)
    assert len(_passages()) == 3
    context.close()
