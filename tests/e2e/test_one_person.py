"""Issue 16 item 2 on the commune officer's phone: the same CCCD declared twice while followed is
one row in "Chờ đến" ("2 chuyến") and one page with both trips."""
import re
import uuid

from playwright.sync_api import expect

from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.scan import operations as scan
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD
from tests.test_persons import values


def test_a_second_declaration_of_someone_followed_is_one_row_with_both_trips(page, users):
    staff = users["checkpoint"]
    codes = []
    for phone in ("0987654321", "0911222333"):
        decl, _created = declarations.create_declaration(values(phone=phone))
        scan.record_passage(user=staff, checkpoint=staff.checkpoints[0].checkpoint, decl=decl,
                            values=scan.PassageInput("allow"), client_uuid=str(uuid.uuid4()))
        codes.append(decl.code)
    db.session.commit()

    page.goto("/dang-nhap?next=/xa")
    page.get_by_label("Tên đăng nhập").fill("xa1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.locator(".tile.expected").click()
    rows = page.locator("#list li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2 chuyến")
    screenshot(page, "one-person-expected-list")
    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile("/xa/nguoi-den/"))
    trips = page.locator(".trips")
    expect(trips).to_contain_text("2 chuyến đi của người này")
    for code in codes:
        expect(trips).to_contain_text(code)
    trips.scroll_into_view_if_needed()
    screenshot(page, "one-person-trips")
    assert page.console_errors == []
