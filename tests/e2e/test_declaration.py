"""A traveller on a 390x844 phone: poster URL, the form filled with the keyboard, the QR, the app
reopened on the status page; self check-in; the printed poster's QR size."""
import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.models import Checkpoint, Declaration, Passage
from tests.e2e.conftest import ARTIFACTS, screenshot
from tests.factories import PASSWORD, ArrivalFactory, CheckpointFactory, DeclarationFactory

CM_PER_CSS_PX = 2.54 / 96
LAST_DOSE = clock.today() - timedelta(days=60)


def _type(page, label, text):
    page.get_by_label(label, exact=True).focus()
    page.keyboard.type(text)


def _pick_commune(page, name, province_code, query, commune):
    """Province from its list, then the commune searched with the keyboard and chosen with the arrow key."""
    page.locator(f"#{name}_province").select_option(province_code)
    page.locator(f"#{name}_q").focus()
    page.keyboard.type(query)
    options = page.locator(f"#{name} option")
    expect(options).to_have_count(2)  # "choose" and the one match
    expect(options.nth(1)).to_have_text(commune)
    page.locator(f"#{name}").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator(f"#{name}")).to_have_value(re.compile(r"^\d{5}$"))


def _fill_declaration(page):
    _type(page, "Họ và tên", "Trần Thị Bích Ngọc")
    _type(page, "Số giấy tờ", "079190123456")
    expect(page.get_by_label("Năm sinh", exact=True)).to_have_value("1990")  # read from the CCCD number
    expect(page.get_by_label("Nữ", exact=True)).to_be_checked()
    _type(page, "Số điện thoại di động", "0912 345 678")
    _pick_commune(page, "dest", "75", "dong xoai", "Phường Đồng Xoài")
    _type(page, "Số nhà, đường, thôn/ấp nơi bạn sẽ ở", "Tổ 3, khu phố Tân Bình")
    _pick_commune(page, "origin", "79", "ben thanh", "Phường Bến Thành")
    _type(page, "Biển số xe", "59X1-123.45")
    page.get_by_label("Giống địa chỉ nơi tôi sẽ ở").focus()  # another contact address than the stay
    page.keyboard.press("Space")
    _pick_commune(page, "contact", "79", "ben thanh", "Phường Bến Thành")
    _type(page, "Số nhà, đường, thôn/ấp/tổ dân phố", "12 Lê Lợi")
    page.locator("#vaccine_doses").get_by_label("2", exact=True).focus()
    page.keyboard.press("Space")
    _type(page, "Ngày tiêm mũi gần nhất", LAST_DOSE.strftime("%d/%m/%Y"))  # as on the certificate
    page.get_by_label("Tôi đã đọc thông báo ở trên và đồng ý").focus()
    page.keyboard.press("Space")


def test_traveller_declares_gets_qr_and_reopens_status(page, app):
    cp = CheckpointFactory(name="Chốt QL13 – Chơn Thành", commune_code="25432")
    db.session.commit()

    page.goto(f"/c/{cp.code}")
    expect(page.get_by_role("heading", name="Khai báo di chuyển nội địa")).to_be_visible()
    expect(page.get_by_text("Tại chốt: Chốt QL13 – Chơn Thành")).to_be_visible()
    expect(page.locator("#kd-checkin")).to_be_hidden()  # nothing remembered on this phone yet
    screenshot(page, "declaration-form")

    _fill_declaration(page)
    page.get_by_role("button", name="Gửi khai báo").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Đã gửi khai báo")).to_be_visible()
    expect(page.locator(".personal-qr svg")).to_be_visible()
    expect(page.get_by_text("Phường Đồng Xoài, Đồng Nai")).to_be_visible()
    screenshot(page, "declaration-qr")
    decl = db.session.scalar(select(Declaration))
    assert decl.full_name == "Trần Thị Bích Ngọc" and decl.checkpoint_id == cp.id
    assert decl.vehicle_plate == "59X1-123.45" and decl.vaccine_doses == 2 and decl.last_dose_date == LAST_DOSE
    assert decl.phone == "0912345678" and decl.contact_commune_code == "26743" and decl.sex == "nu"
    stored = page.evaluate("localStorage.getItem('kd.trip')")
    assert stored and "token" in stored

    page.goto("/")  # reopening the app
    expect(page.get_by_role("heading", name="Trần Thị Bích Ngọc")).to_be_visible()
    expect(page.get_by_text("Việc cần làm bây giờ")).to_be_visible()
    expect(page.locator(".step.done")).to_have_count(1)
    expect(page.locator(".personal-qr svg")).to_be_visible()
    screenshot(page, "traveller-status")
    page.reload()
    expect(page.locator(".status .code")).to_have_text(decl.code)
    assert page.console_errors == []


def test_errors_are_shown_next_to_their_fields(page, app):
    page.goto("/khai-bao")
    _type(page, "Số giấy tờ", "12345")
    _type(page, "Số điện thoại di động", "0123")
    page.get_by_role("button", name="Gửi khai báo").click()
    expect(page.get_by_text("Số CCCD gồm đúng 12 chữ số.")).to_be_visible()
    expect(page.get_by_text("Số điện thoại di động không hợp lệ")).to_be_visible()
    expect(page.get_by_text("Chọn xã, phường nơi đến.")).to_be_visible()
    # The first field in error has the focus, so a keyboard user lands on it.
    assert page.evaluate("document.activeElement.id") == "full_name"
    expect(page.locator("#id_number")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "declaration-errors")
    assert db.session.scalar(select(Declaration.id)) is None
    # Chromium logs the 422 itself; anything else (a CSP violation, a script error) fails.
    assert [e for e in page.console_errors if "422" not in e] == [], page.console_errors


def test_self_checkin_on_poster_url_with_a_saved_declaration(page, app):
    cp = CheckpointFactory(commune_code="25432")
    db.session.commit()
    page.goto(f"/c/{cp.code}")
    _fill_declaration(page)
    page.get_by_role("button", name="Gửi khai báo").click()
    expect(page.get_by_role("heading", name="Đã gửi khai báo")).to_be_visible()

    page.goto(f"/c/{cp.code}")
    card = page.locator("#kd-checkin")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Trần Thị Bích Ngọc")  # as declared, not the QR's upper-case ASCII
    expect(card).not_to_contain_text("TRAN THI BICH NGOC")
    screenshot(page, "self-checkin")
    card.get_by_role("button", name="Tôi đang ở chốt này").click()
    expect(page.get_by_role("heading", name="Đã ghi nhận bạn có mặt")).to_be_visible()
    passage = db.session.scalar(select(Passage))
    assert passage.kind == "self_checkin" and passage.decision is None and passage.user_id is None

    page.goto("/q")  # the status page shows the pending check-in
    expect(page.get_by_text("chờ nhân viên xác nhận")).to_be_visible()
    assert page.console_errors == []


def test_status_page_shows_monitoring_day(page, app):
    today = clock.today()  # local date: at 00:30 in Viet Nam it is still yesterday in UTC
    decl = DeclarationFactory(full_name="Lê Văn Tám", travel_date=today - timedelta(days=2))
    cp = CheckpointFactory()
    db.session.flush()
    passage = Passage(declaration_id=decl.id, checkpoint_id=cp.id, decision="allow",
                      client_uuid="00000000-0000-4000-8000-000000000001")
    db.session.add(passage)
    ArrivalFactory(declaration=decl, status="monitoring", plan_start=today - timedelta(days=2),
                   plan_end=today + timedelta(days=4), arrived_at=decl.created_at)
    db.session.commit()
    from kiemdich.declarations.operations import token_for

    with app.test_request_context():
        token = token_for(decl)
    page.goto(f"/q#{token}")
    expect(page.locator(".timeline").get_by_text("Theo dõi: ngày 3 / 7")).to_be_visible()
    expect(page.locator(".personal-qr")).to_have_count(0)  # passed: no QR to show any more
    screenshot(page, "traveller-status-monitoring")
    assert page.console_errors == []


def test_poster_prints_qr_at_least_15_cm_on_one_a4_page(page, app, users):
    cp = db.session.get(Checkpoint, users["checkpoint"].checkpoint_ids[0])
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("super1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/tinh$"))
    page.goto(f"/checkpoints/{cp.id}")
    expect(page.get_by_role("heading", name=cp.name)).to_be_visible()
    screenshot(page, "checkpoint-show")
    page.get_by_role("link", name="In áp phích (A4)").click()
    expect(page.get_by_role("heading", name=cp.name)).to_be_visible()
    screenshot(page, "poster")
    page.emulate_media(media="print")
    screenshot(page, "poster-print")
    box = page.locator(".poster-qr svg").bounding_box()
    assert box["width"] * CM_PER_CSS_PX >= 15 and box["height"] * CM_PER_CSS_PX >= 15
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "poster.pdf").write_bytes(pdf)  # to look at
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    assert page.console_errors == []
