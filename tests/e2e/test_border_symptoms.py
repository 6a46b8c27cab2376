"""Issue 11 item 6 on the commune officer's phone: a traveller who declared "Sốt, Ho" and was let
through at a checkpoint is red in "Chờ đến" and counted as having symptoms before any check."""
import re
import uuid

from playwright.sync_api import expect

from kiemdich.extensions import db
from kiemdich.scan import operations as scan
from kiemdich.text import fold
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, DeclarationFactory


def test_declared_symptoms_reach_the_communes_red_list(page, users):
    staff = users["checkpoint"]
    for name, symptoms in [("An Văn Khỏe", []), ("Vũ Thị Sốt", ["sot", "ho"])]:
        decl = DeclarationFactory(full_name=name, search_name=fold(name), dest_commune_code="25210",
                                  symptoms=symptoms)
        scan.record_passage(user=staff, checkpoint=staff.checkpoints[0].checkpoint, decl=decl,
                            values=scan.PassageInput("allow"), client_uuid=str(uuid.uuid4()))
    db.session.commit()

    page.goto("/dang-nhap?next=/xa")
    page.get_by_label("Tên đăng nhập").fill("xa1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page.locator(".tile.symptomatic .n")).to_have_text("1")
    page.locator(".tile.expected").click()
    first = page.locator("#list li").first
    expect(first).to_contain_text("Vũ Thị Sốt")
    expect(first).to_have_class("red")
    expect(first).to_contain_text("có triệu chứng")
    screenshot(page, "border-symptoms-expected-list")
    first.locator("a").first.click()
    expect(page).to_have_url(re.compile("/xa/nguoi-den/"))
    expect(page.locator(".events")).to_contain_text("khai báo triệu chứng khi vào tỉnh")
    expect(page.locator(".events")).to_contain_text("Sốt, Ho")
    page.locator(".events").scroll_into_view_if_needed()
    screenshot(page, "border-symptoms-history")
    assert page.console_errors == []


def test_an_admin_refused_a_supervisor_page_is_told_who_does_it(page, users):
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("admin1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.goto("/checkpoints/new")
    expect(page.get_by_text("Trang này dành cho: Giám sát.")).to_be_visible()
    screenshot(page, "forbidden-says-who")
