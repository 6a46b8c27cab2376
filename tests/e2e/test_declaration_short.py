"""Issue 11 on a 390x844 phone: the minimal trip counted tap by tap (item 11), the address that keeps
the QR after sending (item 12), what the form says before sending, and a pre-2025 commune name in
the picker (item 15)."""
import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.models import Declaration
from tests.e2e.conftest import screenshot
from tests.factories import CheckpointFactory

LAST_DOSE = clock.today() - timedelta(days=60)
MAX_TAPS, MAX_TYPED = 15, 6


class Thumb:
    """Counts what a traveller does. A tap is one touch on a control; a drop-down list costs two
    (open it, touch the option). A typed field is one field filled with the keyboard; the touch that
    puts the cursor in it is part of it, not a tap."""

    def __init__(self, page):
        self.page, self.taps, self.typed = page, 0, []

    def tap(self, locator):
        locator.tap()
        self.taps += 1

    def choose(self, locator, value):
        locator.select_option(value)
        self.taps += 2

    def type(self, label, text):
        self.page.get_by_label(label, exact=True).tap()
        self.page.keyboard.type(text)
        self.typed.append(label)


def test_minimal_trip_is_short_and_reload_keeps_the_qr(page, app):
    cp = CheckpointFactory(name="Chốt QL13 – Chơn Thành", commune_code="25432")
    db.session.commit()
    page.goto(f"/c/{cp.code}")
    expect(page.get_by_role("heading", name="Khai báo di chuyển nội địa")).to_be_visible()
    screenshot(page, "declaration-short-form")
    thumb = Thumb(page)

    # A fully vaccinated traveller with no symptoms, by motorbike (the default vehicle).
    thumb.type("Họ và tên", "Trần Thị Bích Ngọc")
    thumb.type("Số giấy tờ", "079190123456")
    expect(page.get_by_label("Năm sinh", exact=True)).to_have_value("1990")  # read from the CCCD
    expect(page.get_by_label("Nữ", exact=True)).to_be_checked()
    thumb.type("Số điện thoại di động", "0912 345 678")
    thumb.choose(page.locator("#dest"), "25210")  # the home province is already chosen
    thumb.type("Số nhà, đường, thôn/ấp nơi bạn sẽ ở", "Tổ 3, khu phố Tân Bình")
    thumb.choose(page.locator("#origin_province"), "79")
    thumb.choose(page.locator("#origin"), "26743")
    thumb.type("Biển số xe", "59X1-123.45")
    thumb.tap(page.locator("#vaccine_doses").get_by_label("2", exact=True))
    thumb.type("Ngày tiêm mũi gần nhất", LAST_DOSE.strftime("%d/%m/%Y"))
    thumb.tap(page.get_by_label("Tôi đã đọc thông báo ở trên và đồng ý"))
    screenshot(page, "declaration-short-filled")
    thumb.tap(page.get_by_role("button", name="Gửi khai báo"))

    expect(page.get_by_role("heading", name="Đã gửi khai báo")).to_be_visible()
    expect(page.locator(".personal-qr svg")).to_be_visible()
    print(f"minimal trip: {thumb.taps} taps, {len(thumb.typed)} typed fields {thumb.typed}")
    assert thumb.taps <= MAX_TAPS and len(thumb.typed) <= MAX_TYPED, (thumb.taps, thumb.typed)
    decl = db.session.scalar(select(Declaration))
    assert (decl.birth_year, decl.sex, decl.vaccine_doses, decl.last_dose_date) == (1990, "nu", 2, LAST_DOSE)
    assert decl.contact_commune_code == decl.dest_commune_code == "25210" and decl.checkpoint_id == cp.id

    # Item 12: the address is now the traveller's own link; a reload still shows the QR.
    expect(page).to_have_url(re.compile(r"/q#[A-Za-z0-9_-]{60,}$"))
    page.reload()
    expect(page.get_by_role("heading", name="Trần Thị Bích Ngọc")).to_be_visible()
    expect(page.locator(".personal-qr svg")).to_be_visible()
    expect(page.locator(".status .code")).to_have_text(decl.code)
    screenshot(page, "declaration-short-reloaded")
    # Back is the form again (a new, empty one), Forward the QR.
    page.go_back()
    expect(page.get_by_role("button", name="Gửi khai báo")).to_be_visible()
    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value("")
    page.go_forward()
    expect(page.locator(".personal-qr svg")).to_be_visible()
    assert page.console_errors == []


def test_the_form_says_what_is_required_before_sending(page, app):
    page.goto("/khai-bao")
    plate = page.get_by_label("Biển số xe", exact=True)
    expect(plate).to_be_visible()  # motorbike by default: asked for before sending, with why
    expect(page.get_by_text("Bắt buộc với xe máy, ô tô, xe khách, xe tải.")).to_be_visible()
    expect(page.get_by_label("Số ghế (xe khách)", exact=True)).to_be_hidden()
    page.get_by_label("Phương tiện", exact=True).select_option("xe_dap")
    expect(plate).to_be_hidden()
    page.get_by_label("Phương tiện", exact=True).select_option("xe_khach")
    expect(plate).to_be_visible()
    expect(page.get_by_label("Số ghế (xe khách)", exact=True)).to_be_visible()

    last_dose = page.get_by_label("Ngày tiêm mũi gần nhất", exact=True)
    expect(last_dose).to_be_hidden()  # no dose chosen yet
    page.locator("#vaccine_doses").get_by_label("1", exact=True).tap()
    expect(last_dose).to_be_visible()
    page.locator("#vaccine_doses").get_by_label("0", exact=True).tap()
    expect(last_dose).to_be_hidden()

    expect(page.locator("#contact-picker")).to_be_hidden()  # "same as where I will stay" is ticked
    page.get_by_label("Giống địa chỉ nơi tôi sẽ ở").tap()
    expect(page.locator("#contact-picker")).to_be_visible()

    # The notice is one tap away, and there is one consent.
    notice = page.locator("details.notice")
    expect(notice.locator(".notice-text")).to_be_hidden()
    notice.locator("summary").tap()
    expect(notice.locator(".notice-text")).to_be_visible()
    expect(notice).to_contain_text("trước khi gửi khai báo")
    # Sent with a mistake, the form comes back with the notice and the ticks as the traveller left them.
    page.get_by_label("Ho", exact=True).tap()
    page.get_by_role("button", name="Gửi khai báo").tap()
    expect(page.get_by_text("Đánh dấu ô đồng ý với thông báo xử lý dữ liệu cá nhân trước khi gửi.")).to_be_visible()
    expect(page.locator("details.notice .notice-text")).to_be_visible()
    expect(page.get_by_label("Ho", exact=True)).to_be_checked()
    expect(page.get_by_label("Sốt", exact=True)).not_to_be_checked()
    # (Screenshots last: Playwright marks every input with style="", which htmx would copy on a swap.)
    screenshot(page, "declaration-short-conditions")

    # The new controls are thumb-sized.
    for control in (page.locator("#vaccine_doses label.check").first, page.locator("label[for=contact_same]"),
                    notice.locator("summary"), page.locator("label[for=consent]")):
        box = control.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box
    assert [e for e in page.console_errors if "422" not in e] == []


def test_a_typed_year_or_sex_is_never_overwritten_by_the_cccd(page, app):
    page.goto("/khai-bao")
    page.get_by_label("Nam", exact=True).tap()
    page.get_by_label("Năm sinh", exact=True).fill("1991")
    page.get_by_label("Số giấy tờ", exact=True).fill("079190123456")
    expect(page.get_by_label("Năm sinh", exact=True)).to_have_value("1991")
    expect(page.get_by_label("Nam", exact=True)).to_be_checked()


def test_an_old_commune_name_finds_todays_commune_and_stores_its_code(page, app):
    page.goto("/khai-bao")
    page.locator("#dest_q").tap()
    page.keyboard.type("duc lieu")
    chosen = page.locator("#dest option:checked")
    expect(chosen).to_have_text("Xã Nghĩa Trung (gồm xã Đức Liễu cũ)")
    expect(page.locator("#dest")).to_have_value("25417")
    screenshot(page, "declaration-old-commune-name")
