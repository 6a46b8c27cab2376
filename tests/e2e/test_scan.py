"""Checkpoint staff on a 390x844 phone: a QR the app drew, read through Chromium's fake camera;
forged codes refused in red; 20 travellers confirmed with the network really gone (browser offline
and the server stopped), replayed exactly once; a replay cut in the middle; a session that expired
while items waited."""
import io
import re
import threading
from contextlib import contextmanager
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from kiemdich import clock, qrcodes, tokens
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import Arrival, Passage
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, screenshot
from tests.factories import PASSWORD, AreaLevelFactory, DeclarationFactory

FRAME = (640, 480)


class _OneShotHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # no keep-alive: once stopped, no old connection still answers


class SwitchableServer:
    """The app on a fixed loopback port that can be switched off (connection refused) and on."""

    def __init__(self, app):
        self.app, self.port, self.server, self.thread = app, 0, None, None

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=_OneShotHandler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server(app):
    srv = SwitchableServer(app)
    srv.start()
    yield srv
    if srv.server is not None:
        try:
            srv.stop()
        except OSError:
            pass


def _context(browser, server):
    context = browser.new_context(viewport=PHONE, base_url=server.url, locale="vi-VN", device_scale_factor=2,
                                  is_mobile=True, has_touch=True, timezone_id="Asia/Ho_Chi_Minh")
    return context


def _watch(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "Failed to load resource" not in msg.text
            and "ERR_" not in msg.text else None)
    return errors


def _login(page, next_path="/chot/quet"):
    page.goto(f"/dang-nhap?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill("chot1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def _ready_offline(page):
    """Wait until the service worker controls the page and keeps the scan shell, decoder, key, rules."""
    _until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "6", timeout=15000)


def _until(page, condition, timeout=15.0):
    """Poll from Python: wait_for_function would eval() in the page, which the CSP forbids.
    Waiting through Playwright (not time.sleep) lets route handlers run meanwhile."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        page.wait_for_timeout(100)


def _travellers(n):
    AreaLevelFactory(area_code="79", level=4)
    made = [DeclarationFactory(full_name=f"Nguyễn Văn Khách {i:02d}") for i in range(n)]
    db.session.commit()
    return made


def _url(server, decl):
    return qrcodes.personal_url(declarations.token_for(decl), base=server.url)


def _forged(server, decl):
    raw = bytearray(tokens._unb64(declarations.token_for(decl)))
    raw[27] ^= 2  # one letter of the name: the signature no longer matches
    return qrcodes.personal_url(tokens._b64(bytes(raw)), base=server.url)


def _scan_by_hand(page, url):
    field = page.locator("[data-manual-input]")
    field.fill(url)
    field.press("Enter")


def _confirm_offline(page, context, server, people):
    """Sign in, let the service worker keep the scan screen, cut the network, confirm each person."""
    _login(page)
    _ready_offline(page)
    server.stop()
    context.set_offline(True)
    for decl in people:
        _scan_by_hand(page, _url(server, decl))
        page.locator(".verdict[data-local]").get_by_role("button", name="Cho qua", exact=True).click()
        expect(page.locator(".verdict-result.queued")).to_be_visible()


def _passages():
    db.session.expire_all()
    return list(db.session.scalars(select(Passage).order_by(Passage.id)))


def _y4m(png: bytes, path):
    """A short 4:2:0 video of the QR image centred on white, for Chromium's fake camera."""
    from PIL import Image

    qr = Image.open(io.BytesIO(png)).convert("L")
    side = min(FRAME) - 40
    qr = qr.resize((side, side), Image.NEAREST)
    frame = Image.new("L", FRAME, 255)
    frame.paste(qr, ((FRAME[0] - side) // 2, (FRAME[1] - side) // 2))
    y = frame.tobytes()
    chroma = bytes([128]) * (FRAME[0] * FRAME[1] // 4)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + y + chroma + chroma)


@contextmanager
def _launched(browser_type, args):
    launched = browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        yield launched
    finally:
        launched.close()


def _decision_buttons_on_screen(page):
    from tests.e2e.test_verdict_card import _decision_buttons_on_screen as check
    return check(page)


def test_camera_reads_the_apps_qr_green_then_a_forged_code_red(browser, app, users, server, tmp_path):
    decl = _travellers(1)[0]
    url = _url(server, decl)
    video = tmp_path / "qr.y4m"
    _y4m(qrcodes.png_bytes(qrcodes.make(url), min_pixels=400, dpi=96), video)
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"]
    # A second Chromium from the same Playwright: the fake camera is chosen at launch.
    with _launched(browser.browser_type, CHROMIUM_ARGS + camera) as with_camera:
        context = _context(with_camera, server)
        context.grant_permissions(["camera"], origin=server.url)
        page = context.new_page()
        errors = _watch(page)
        _login(page)
        expect(page.get_by_role("button", name="Quét bằng camera")).to_be_visible()
        screenshot(page, "scan-screen")
        assert page.evaluate("typeof window.QrScanner") == "undefined"  # the decoder is not loaded yet

        page.get_by_role("button", name="Quét bằng camera").click()
        card = page.locator("#verdict .verdict[data-stance]")
        expect(card).to_contain_text("Nguyễn Văn Khách 00", timeout=20000)  # the server's card: the name as typed
        expect(card).to_contain_text("cấp độ 4")
        expect(card).to_contain_text("Tự theo dõi sức khỏe 7 ngày")
        expect(card.locator(".band")).to_have_text("Cho qua, kèm điều kiện")  # level 4, vaccinated: amber
        _decision_buttons_on_screen(page)  # camera path: the decision is on screen, "Cho qua" focused
        page.get_by_role("button", name="Tắt camera").click()
        screenshot(page, "scan-verdict-green")

        card.get_by_role("button", name="Cho qua", exact=True).click()
        expect(page.locator(".verdict-result.created")).to_contain_text("Cho qua")
        passages = _passages()
        assert len(passages) == 1 and passages[0].decision == "allow"
        assert db.session.scalar(select(Arrival.passage_id)) == passages[0].id

        _scan_by_hand(page, _forged(server, decl))
        refusal = page.locator(".verdict.bad")
        expect(refusal).to_contain_text("Mã QR giả hoặc của nơi khác")
        expect(page.locator("#verdict .verdict[data-stance]")).to_have_count(0)
        screenshot(page, "scan-verdict-red")

        _scan_by_hand(page, url)  # the same traveller again at the same checkpoint
        expect(page.locator(".verdict.done")).to_contain_text("Đã xác nhận lúc")
        assert len(_passages()) == 1
        assert errors == []


def test_offline_twenty_travellers_then_replayed_exactly_once(browser, app, users, server):
    people = _travellers(20)
    late = DeclarationFactory(valid_until=clock.utcnow() - timedelta(minutes=5))
    db.session.commit()
    expired = _url(server, late)
    context = _context(browser, server)
    page = context.new_page()
    errors = _watch(page)
    _login(page)
    _ready_offline(page)
    # Installable: manifest, icons, a service worker with a fetch handler (Chromium's own check).
    # (Playwright's contexts are incognito windows, which Chromium never offers to install.)
    installability = context.new_cdp_session(page).send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in installability if e["errorId"] != "in-incognito"] == []

    started = clock.utcnow()
    server.stop()  # really offline: the service worker's requests find no server either
    context.set_offline(True)
    for i, decl in enumerate(people):
        if i == 3:  # a handheld scanner types the URL and Enter
            page.locator("[data-manual-input]").focus()
            page.keyboard.type(_url(server, decl) + "\n")
        else:
            _scan_by_hand(page, _url(server, decl))
        card = page.locator(".verdict[data-local]")
        expect(card).to_contain_text(f"NGUYEN VAN KHACH {i:02d}")
        if i == 0:
            expect(card).to_contain_text("Mất mạng: đã kiểm tra bằng khóa lưu trên máy")
            origin = card.locator("[data-origin] option", has_text="Hồ Chí Minh").first.text_content()
            card.locator("[data-origin]").select_option(label=origin)  # the traveller says where from
            expect(card.locator('[data-f="instruction"]')).to_have_text("Mã 5 · Tự theo dõi sức khỏe 7 ngày")
            screenshot(page, "scan-verdict-offline")
        button = card.get_by_role("button", name="Cho qua", exact=True)
        if i == 7:
            button.dblclick()  # double tap
        else:
            button.click()
        expect(page.locator(".verdict-result.queued")).to_be_visible()
    _scan_by_hand(page, _forged(server, people[0]))
    expect(page.locator(".verdict.bad")).to_contain_text("Mã QR giả hoặc của nơi khác")
    _scan_by_hand(page, expired)  # genuine signature, window over: red too, with no network
    expect(page.locator(".verdict.bad")).to_contain_text("Mã QR đã hết hạn qua chốt")
    _scan_by_hand(page, _url(server, people[7]))
    expect(page.locator(".verdict.done")).to_contain_text("Đã xác nhận lúc")

    banner = page.locator("[data-outbox-banner]")
    expect(banner).to_contain_text("20 chưa đồng bộ")
    expect(banner).to_contain_text("Mất mạng")
    screenshot(page, "scan-offline-banner")
    page.reload()  # still offline: the kept scan screen, the queue still there
    expect(page.get_by_role("button", name="Quét bằng camera")).to_be_visible()
    expect(banner).to_contain_text("20 chưa đồng bộ")
    assert _passages() == []

    server.start()
    context.set_offline(False)  # the `online` event starts the replay
    expect(banner).to_contain_text("Đã đồng bộ hết", timeout=20000)
    expect(banner).to_contain_text("lần cuối")
    passages = _passages()
    assert len(passages) == 20
    assert sorted(p.declaration_id for p in passages) == sorted(d.id for d in people)
    for p in passages:  # the time of the scan is kept, not the time of the sync
        assert started <= p.client_ts <= p.server_ts
    assert db.session.scalar(select(func.count()).select_from(Arrival)) == 20
    assert errors == []
    context.close()


def test_network_cut_in_the_middle_of_a_replay_still_records_once(browser, app, users, server):
    people = _travellers(6)
    context = _context(browser, server)
    # Pages replay by themselves here: no Background Sync, so every replay passes the route below.
    context.add_init_script("Object.defineProperty(ServiceWorkerRegistration.prototype, 'sync', {get: () => undefined});")
    page = context.new_page()
    _confirm_offline(page, context, server, people)

    seen, lost = [], []

    def cut_after_two(route):
        # Two answers arrive; the third request reaches the server and is committed, but the
        # line drops before its answer comes back; nothing else gets through.
        seen.append(route.request.headers.get("idempotency-key"))
        if len(seen) <= 2:
            route.continue_()
        elif len(seen) == 3:
            route.fetch()
            lost.append(seen[-1])
            route.abort("internetdisconnected")
        else:
            route.abort("internetdisconnected")

    page.route("**/chot/qua-chot", cut_after_two)
    server.start()
    context.set_offline(False)  # the `online` replay stops at the lost answer
    _until(page, lambda: len(lost) == 1)
    expect(page.locator("[data-outbox-banner]")).to_contain_text("4 chưa đồng bộ", timeout=10000)
    assert len(_passages()) == 3  # the server has the third, the phone does not know it

    page.unroute("**/chot/qua-chot")
    page.get_by_role("button", name="Đồng bộ ngay").click()
    expect(page.locator("[data-outbox-banner]")).to_contain_text("Đã đồng bộ hết", timeout=20000)
    passages = _passages()
    assert len(passages) == 6
    assert sorted(p.declaration_id for p in passages) == sorted(d.id for d in people)
    assert lost[0] in {p.client_uuid for p in passages}
    context.close()


def test_session_expired_during_replay_keeps_the_items_until_sign_in(browser, app, users, server):
    people = _travellers(3)
    context = _context(browser, server)
    page = context.new_page()
    _confirm_offline(page, context, server, people)

    context.clear_cookies()  # the session ended while the phone was offline
    server.start()
    context.set_offline(False)
    banner = page.locator("[data-outbox-banner]")
    expect(banner.locator("[data-outbox-auth]")).to_be_visible(timeout=20000)
    expect(banner).to_contain_text("3 chưa đồng bộ")
    screenshot(page, "scan-session-expired")
    assert _passages() == []

    banner.get_by_role("link", name="Đăng nhập").click()
    page.get_by_label("Tên đăng nhập").fill("chot1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/chot/quet$"))
    expect(page.locator("[data-outbox-banner]")).to_contain_text("Đã đồng bộ hết", timeout=20000)
    assert len(_passages()) == 3
    context.close()


def test_refused_item_stays_listed_with_its_reason(browser, app, users, server):
    (decl,) = _travellers(1)
    context = _context(browser, server)
    page = context.new_page()
    _confirm_offline(page, context, server, [decl])
    # While the phone was offline the declaration was withdrawn (e.g. de-identified on request).
    decl.deidentified_at = clock.utcnow() - timedelta(minutes=1)
    db.session.commit()
    server.start()
    context.set_offline(False)
    refused = page.locator("[data-outbox-refused-list] li")
    expect(refused).to_contain_text("Không có tờ khai nào ứng với mã này", timeout=20000)
    expect(refused).to_contain_text("NGUYEN VAN KHACH 00")
    page.reload()
    expect(page.locator("[data-outbox-refused-list] li")).to_have_count(1)  # still there until dismissed
    page.get_by_role("button", name="Bỏ qua").click()
    expect(page.locator("[data-outbox-refused-list] li")).to_have_count(0)
    assert _passages() == []
    context.close()


def test_self_checkin_waiting_is_confirmed_from_the_scan_screen(browser, app, users, server):
    (decl,) = _travellers(1)
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint
    checkin, _created = declarations.self_checkin(declarations.token_for(decl), checkpoint)
    db.session.commit()
    context = _context(browser, server)
    page = context.new_page()
    errors = _watch(page)
    _login(page)
    waiting = page.locator("#pending")
    expect(waiting).to_contain_text("Nguyễn Văn Khách 00")
    waiting.get_by_role("button", name="Xác nhận").click()
    card = page.locator("#verdict .verdict[data-stance]")
    expect(card).to_contain_text("Đã tự báo có mặt lúc")
    card.get_by_role("button", name="Cho qua", exact=True).click()
    expect(page.locator(".verdict-result.created")).to_contain_text("Cho qua")
    # The answered check-in leaves the list at once (not at the next minute's poll).
    expect(waiting).not_to_contain_text("Nguyễn Văn Khách 00", timeout=3000)
    passages = [p for p in _passages() if p.kind == "staff"]
    assert len(passages) == 1 and passages[0].confirms_id == checkin.id
    assert errors == []
    context.close()


def test_without_indexeddb_a_decision_is_still_sent_once(browser, app, users, server):
    """Some private modes have no IndexedDB: nothing can wait offline, but online work goes on."""
    (decl,) = _travellers(1)
    context = _context(browser, server)
    context.add_init_script("Object.defineProperty(window, 'indexedDB', {get: () => undefined});")
    page = context.new_page()
    errors = _watch(page)
    _login(page)
    _scan_by_hand(page, _url(server, decl))
    card = page.locator("#verdict .verdict[data-stance]")
    expect(card).to_contain_text("cấp độ 4")  # the server's card
    card.get_by_role("button", name="Cho qua", exact=True).dblclick()
    expect(page.locator(".verdict-result.created")).to_contain_text("Cho qua")
    assert len(_passages()) == 1
    assert errors == []
    context.close()
