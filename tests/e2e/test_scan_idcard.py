"""The chip ID card's QR typed by a handheld scanner at a 390x844 phone: the person's declaration,
or khai hộ prefilled from the card and sent without a phone; offline the card is kept, never refused."""
import re
import unicodedata
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich import qrcodes
from kiemdich.extensions import db
from kiemdich.imports.addresses import library
from kiemdich.models import Declaration
from tests.e2e.test_declaration import _pick_commune
from tests.e2e.conftest import CHROMIUM_ARGS, screenshot
from tests.e2e.test_accessibility import phone  # noqa: F401 (fixture)
from tests.e2e.test_scan import _context, _launched, _login, _ready_offline, _watch, _y4m, server  # noqa: F401
from tests.factories import AreaLevelFactory, DeclarationFactory

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = "Nguyễn Thị Ánh Tuyết"
CARD = f"075190001234|285123456|{NAME}|05031990|Nữ|Tổ 3, Phường Tân Phú, Thành phố Đồng Xoài, Bình Phước|10042021"
DECLARED = "075185000111||Trần Văn Đức|01021985|Nam|Ấp 2, Xã Minh Hưng, Huyện Chơn Thành, Tỉnh Bình Phước|01052022"


def _scanner(page, text):
    """A handheld scanner: it types the card's text and Enter into the focused code field."""
    page.locator("[data-manual-input]").focus()
    page.keyboard.type(text + "\n")


def _declarations():
    db.session.expire_all()
    return list(db.session.scalars(select(Declaration).order_by(Declaration.id)))


def test_card_opens_the_declaration_or_khai_ho_prefilled_then_the_slip(browser, app, users, server):  # noqa: F811
    library()  # the address library, loaded at start-up outside tests (kiemdich/__init__.py)
    AreaLevelFactory(area_code="79", level=4)
    DeclarationFactory(full_name="Trần Văn Đức", id_number="075185000111")
    db.session.commit()
    context = _context(browser, server)
    page = context.new_page()
    errors = _watch(page)
    _login(page)

    _scanner(page, DECLARED)  # declared already: their verdict card
    card = page.locator("#verdict .verdict[data-stance]")
    expect(card).to_contain_text("Trần Văn Đức")
    expect(card.locator(".band")).to_have_text("Cho qua, kèm điều kiện")

    _scanner(page, unicodedata.normalize("NFD", CARD))  # never declared: one tap to khai hộ
    offer = page.locator("#verdict [data-card]")
    expect(offer).to_contain_text("Chưa có tờ khai: khai hộ")
    expect(offer).to_contain_text(NAME)
    expect(offer).to_contain_text("05/03/1990")
    expect(offer.get_by_role("button", name="Khai hộ người này")).to_be_focused()
    assert len(_declarations()) == 1
    page.keyboard.press("Enter")

    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value(NAME)
    assert page.url.endswith("/khai-ho")
    expect(page.get_by_label("Số giấy tờ", exact=True)).to_have_value("075190001234")
    expect(page.get_by_label("Năm sinh", exact=True)).to_have_value("1990")
    expect(page.get_by_label("Nữ", exact=True)).to_be_checked()
    expect(page.locator("#contact")).to_have_value("25195")  # Tân Phú, Đồng Xoài (old) → Phường Bình Phước
    expect(page.locator("#dest")).to_have_value("25195")
    expect(page.locator("[data-card-prefill]")).to_contain_text("Đã điền sẵn từ thẻ căn cước")
    page.evaluate("document.getElementById('full_name').closest('section').scrollIntoView()")
    page.screenshot(path=str(DOCS / "scan-cccd-prefill.png"))
    screenshot(page, "scan-cccd-prefill-full")

    # No phone (an elderly traveller): the trip is all that is left to ask.
    _pick_commune(page, "origin", "79", "ben thanh", "Phường Bến Thành")
    page.get_by_label("Biển số xe", exact=True).fill("59X1-123.45")
    page.locator("#vaccine_doses").get_by_label("0", exact=True).check()  # no default: asked of everyone
    page.get_by_label("Tôi đã đọc thông báo ở trên và đồng ý").check()
    page.get_by_role("button", name="Gửi khai báo").click()
    expect(page.get_by_role("heading", name="Đã gửi khai báo")).to_be_visible()
    expect(page.locator(".personal-qr svg")).to_be_visible()
    expect(page.get_by_role("button", name="In phiếu")).to_be_visible()
    screenshot(page, "scan-cccd-slip")
    decl = _declarations()[-1]
    assert decl.full_name == NAME and unicodedata.is_normalized("NFC", decl.full_name)
    assert decl.phone == "" and decl.on_behalf and decl.id_number == "075190001234" and decl.sex == "nu"
    assert decl.contact_commune_code == decl.dest_commune_code == "25195"
    assert str(decl.birth_date) == "1990-03-05"
    assert errors == []
    context.close()


def test_offline_the_card_is_kept_then_declared_when_online(browser, app, users, server):  # noqa: F811
    library()
    context = _context(browser, server)
    page = context.new_page()
    errors = _watch(page)
    _login(page)
    _ready_offline(page)
    server.stop()
    context.set_offline(True)

    _scanner(page, CARD)
    kept = page.locator("#verdict [data-kept-card]")
    expect(kept).to_contain_text("Mất mạng: đã giữ thẻ căn cước này trên máy")
    expect(kept).to_contain_text(NAME)
    expect(page.locator(".verdict.bad")).to_have_count(0)  # never a red refusal
    waiting = page.locator("[data-kept]")
    expect(waiting).to_contain_text("Thẻ căn cước chờ khai hộ (1)")
    # Counted in the outbox banner like any write waiting on this phone, with its own line.
    banner = page.locator("[data-outbox-banner]")
    expect(banner.locator("[data-outbox-summary]")).to_contain_text("1 chưa đồng bộ")
    cards_line = banner.get_by_role("link", name="1 thẻ căn cước đọc khi mất mạng đang chờ khai hộ")
    expect(cards_line).to_be_visible()
    expect(banner).to_have_attribute("data-pending", "1")  # amber: something waits
    screenshot(page, "scan-cccd-offline")
    page.reload()  # still offline: the kept screen, the card still waiting
    expect(waiting.locator("li")).to_have_count(1)
    expect(waiting).to_contain_text(NAME)
    expect(banner.locator("[data-outbox-summary]")).to_contain_text("1 chưa đồng bộ")
    expect(cards_line).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot(page, "scan-cccd-offline-banner").with_name("scan-cccd-offline-banner-390.png")))
    assert _declarations() == []

    server.start()
    context.set_offline(False)
    waiting.get_by_role("button", name="Khai hộ", exact=True).click()
    offer = page.locator("#verdict [data-card]")
    expect(offer).to_contain_text("Chưa có tờ khai: khai hộ")
    expect(waiting).to_be_hidden()  # looked up: no longer kept on the phone
    assert page.evaluate("localStorage.getItem('kd.scan.cards')") == "[]"
    expect(cards_line).to_be_hidden()  # nothing waits any more
    expect(banner.locator("[data-outbox-summary]")).not_to_contain_text("chưa đồng bộ")
    offer.get_by_role("button", name="Khai hộ người này").click()
    expect(page.get_by_label("Họ và tên", exact=True)).to_have_value(NAME)
    assert _declarations() == []  # nothing stored before the staff member sends the form
    assert [e for e in errors if not re.search(r"net::|Failed to fetch|NetworkError", e)] == []
    context.close()


def test_the_camera_reads_the_card_with_its_diacritics(browser, app, users, server, tmp_path):  # noqa: F811
    """The card's QR holds UTF-8: read through Chromium's fake camera, the name keeps its diacritics."""
    library()
    video = tmp_path / "cccd.y4m"
    _y4m(qrcodes.png_bytes(qrcodes.make(CARD), min_pixels=400, dpi=96), video)
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"]
    with _launched(browser.browser_type, CHROMIUM_ARGS + camera) as with_camera:
        context = _context(with_camera, server)
        context.grant_permissions(["camera"], origin=server.url)
        page = context.new_page()
        errors = _watch(page)
        _login(page)
        page.get_by_role("button", name="Quét bằng camera").click()
        offer = page.locator("#verdict [data-card]")
        expect(offer).to_contain_text("Chưa có tờ khai: khai hộ", timeout=20000)
        expect(offer.locator("h2")).to_have_text(NAME)
        page.get_by_role("button", name="Tắt camera").click()
        screenshot(page, "scan-cccd-camera")
        assert _declarations() == []
        assert errors == []
        context.close()


def test_the_card_offer_and_the_kept_list_are_accessible(phone, app, users):  # noqa: F811
    """axe on the neutral card offering khai hộ, then on a card kept offline and its list."""
    from tests.e2e.test_accessibility import sign_in, violations
    library()
    sign_in(phone, "chot1", "/chot/quet")
    _scanner(phone, CARD)
    expect(phone.locator("#verdict [data-card]")).to_contain_text("Chưa có tờ khai: khai hộ")
    assert violations(phone, "scan-cccd-offer") == []
    phone.context.set_offline(True)
    _scanner(phone, CARD)
    expect(phone.locator("#verdict [data-kept-card]")).to_be_visible()
    expect(phone.locator("[data-kept] li")).to_have_count(1)
    assert violations(phone, "scan-cccd-kept") == []
    phone.context.set_offline(False)


def test_a_kept_card_is_shown_only_to_the_staff_member_who_read_it(browser, app, users, server):  # noqa: F811
    """A shared phone: a card another staff member kept there is not listed (nor lost) for this one."""
    context = _context(browser, server)
    page = context.new_page()
    _login(page)
    colleague = CARD.replace(NAME, "Lê Văn Bảy").replace("075190001234", "075160007777")
    page.evaluate("""(text) => localStorage.setItem('kd.scan.cards', JSON.stringify(
        [{text: text, t: Date.now(), id: '075160007777', name: 'Lê Văn Bảy', owner: 'chot2'}]))""", colleague)
    page.reload()
    expect(page.locator("[data-manual-input]")).to_be_visible()
    expect(page.locator("[data-kept]")).to_be_hidden()
    context.set_offline(True)
    _scanner(page, CARD)
    expect(page.locator("[data-kept] li")).to_have_count(1)
    expect(page.locator("[data-kept]")).to_contain_text(NAME)
    expect(page.locator("[data-kept]")).not_to_contain_text("Lê Văn Bảy")
    owners = page.evaluate("JSON.parse(localStorage.getItem('kd.scan.cards')).map(c => c.owner).sort()")
    assert owners == ["chot1", "chot2"]  # the colleague's card is still there for them
    context.close()
