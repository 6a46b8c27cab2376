"""In Chromium at 390x844: the officer hands a returnee their link (share sheet, SMS, QR), and the
service worker shows a pushed message that opens the right page (the push message is delivered
to it with the DevTools protocol: the real push services cannot be reached from here)."""
import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from tests.e2e.conftest import screenshot

DOCS = Path(__file__).resolve().parents[2] / "docs"
from tests.e2e.test_followup import arrival, sign_in


def _until(page, check, timeout=15.0):
    """Poll `check`; waiting through Playwright so its events (CDP ones too) are dispatched meanwhile."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError("timed out")


def test_the_officer_hands_over_the_link_in_one_tap(page, users, app):
    person = arrival("Đặng Văn Lộc", "0912345678", days_ago=1)
    db.session.commit()
    # The phone's share sheet (navigator.share) as Android Chrome has it; headless Linux has none.
    page.add_init_script("navigator.share = function (d) { window.kdShared = d; return Promise.resolve(); };")
    sign_in(page)
    page.goto(f"/xa/nguoi-den/{person.declaration.code}")
    page.get_by_role("button", name="Gửi đường dẫn cho người này").click()
    sheet = page.locator("#handover-sheet")
    expect(sheet.get_by_role("heading", name="Gửi đường dẫn cho Đặng Văn Lộc")).to_be_visible()
    sms = sheet.get_by_role("link", name="Gửi tin nhắn SMS đến 0912345678")
    expect(sms).to_be_visible()
    expect(sheet.locator("svg.qr")).to_be_visible()
    screenshot(page, "handover-sheet")
    _until(page, lambda: page.evaluate("document.activeElement.id === 'handover-title'"))  # brought into view
    page.screenshot(path=str(DOCS / "screenshot-handover-sheet.png"))  # 390x844, what the officer sees

    share = sheet.get_by_role("button", name="Chia sẻ (Zalo, Messenger…)")
    expect(share).to_be_visible()
    share.click()
    shared = page.evaluate("window.kdShared")
    link = re.search(r"(http://127\.0\.0\.1:\d+/q#[A-Za-z0-9_-]+)", unquote(sms.get_attribute("href"))).group(1)
    assert shared["url"] == link and shared["text"].startswith("Trạm y tế Phường Đồng Xoài:")
    db.session.expire_all()
    assert db.session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.action == "arrival.link_handover")).all() == [person.declaration.code]

    # The returnee scans the QR / opens the link: their plan and today's task.
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_text("Việc cần làm hôm nay")).to_be_visible()
    expect(page.get_by_role("button", name="Gửi khai báo hôm nay")).to_be_visible()
    assert not [e for e in page.console_errors if "Content Security Policy" in e]


def test_a_pushed_message_is_shown_and_opens_the_right_page(page, users, app, live_server):
    page.context.grant_permissions(["notifications"], origin=live_server)
    sign_in(page)
    expect(page.get_by_role("button", name="Bật thông báo trên điện thoại này")).to_be_visible()
    _until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    reg = _until(page, lambda: next((r for r in registrations if r["scopeURL"] == live_server + "/"), None))
    message = {"title": "Có dấu hiệu bệnh", "body": "Một người đang được theo dõi ở Phường Đồng Xoài có dấu hiệu bệnh.",
               "url": "/xa/nguoi-den/ABCD1234", "tag": "kd-red-ABCD1234"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId": reg["registrationId"],
                                                   "data": json.dumps(message, ensure_ascii=False)})
    shown = _until(page, lambda: page.evaluate("""() => navigator.serviceWorker.ready
        .then(r => r.getNotifications())
        .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"""))
    assert shown == [{"title": message["title"], "body": message["body"], "tag": message["tag"],
                      "url": "/xa/nguoi-den/ABCD1234"}]

    # A message naming another site's page opens the app's home instead.
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId": reg["registrationId"],
                                                   "data": json.dumps({"title": "x", "url": "//evil.example/",
                                                                       "tag": "t2"})})
    urls = _until(page, lambda: (lambda ns: ns if len(ns) == 2 else None)(page.evaluate(
        "() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.data.url))")))
    assert sorted(urls) == ["/", "/xa/nguoi-den/ABCD1234"]


# The browser's push service cannot be reached from here: PushManager answers as Chrome does once it
# has (an endpoint and the keys of this browser), the rest is the page, the server and sign-out.
FAKE_PUSH_MANAGER = """
(() => {
  let current = null;
  const sub = {
    endpoint: "https://fcm.googleapis.com/fcm/send/e2e-device",
    toJSON() { return { endpoint: this.endpoint, expirationTime: null,
                        keys: { p256dh: "B" + "A".repeat(86), auth: "k".repeat(22) } }; },
    unsubscribe() { current = null; return Promise.resolve(true); },
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
  PushManager.prototype.subscribe = function (options) {
    window.kdPushOptions = { visible: options.userVisibleOnly, keyLength: options.applicationServerKey.length };
    current = sub; return Promise.resolve(sub);
  };
})();
"""


def test_the_officer_turns_notifications_on_and_signing_out_turns_them_off(page, users, app, live_server):
    from kiemdich.models import PushSubscription

    page.context.grant_permissions(["notifications"], origin=live_server)
    page.add_init_script(FAKE_PUSH_MANAGER)
    sign_in(page)
    page.get_by_role("button", name="Bật thông báo trên điện thoại này").click()
    expect(page.get_by_text("Đã bật thông báo")).to_be_visible()
    expect(page.get_by_role("button", name="Tắt thông báo trên điện thoại này")).to_be_visible()
    assert page.evaluate("window.kdPushOptions") == {"visible": True, "keyLength": 65}
    db.session.expire_all()
    assert [(s.user_id, s.endpoint) for s in db.session.scalars(select(PushSubscription))] == [
        (users["commune"].id, "https://fcm.googleapis.com/fcm/send/e2e-device")]
    screenshot(page, "push-on")

    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile(r"/dang-nhap"))
    db.session.expire_all()
    assert db.session.scalars(select(PushSubscription)).all() == []
    assert not [e for e in page.console_errors if "Content Security Policy" in e]



def _deliver(page, live_server, message):
    """Deliver `message` to the page's service worker as a push message (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    reg = _until(page, lambda: next((r for r in registrations if r["scopeURL"] == live_server + "/"), None))
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId": reg["registrationId"],
                                                   "data": json.dumps(message, ensure_ascii=False)})


# The tap on the notification the push handler showed: Chromium gives no way to click a system
# notification from here, so the worker's own notification is handed to its handler as a
# notificationclick event (the handler's waitUntil refuses an untrusted event: its work runs anyway).
TAP = """(tag) => self.registration.getNotifications({tag}).then(ns => {
  if (ns.length !== 1) return ns.length;
  try { self.dispatchEvent(new NotificationEvent("notificationclick", {notification: ns[0]})); } catch (e) {}
  return "tapped";
})"""


def _worker(page):
    return _until(page, lambda: page.context.service_workers and page.context.service_workers[0])


def _shown(page, worker, tag):
    return _until(page, lambda: worker.evaluate(
        "(tag) => self.registration.getNotifications({tag}).then(ns => ns.length)", tag))


def test_tapping_a_pushed_message_takes_the_open_app_to_the_page_it_names(page, users, app, live_server):
    person = arrival("Võ Thị Hạnh", "0912345670", days_ago=1)
    db.session.commit()
    page.context.grant_permissions(["notifications"], origin=live_server)
    sign_in(page)
    _until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    url = f"/xa/nguoi-den/{person.declaration.code}"
    _deliver(page, live_server, {"title": "Có dấu hiệu bệnh", "body": "Võ Thị Hạnh", "url": url, "tag": "kd-red-1"})
    worker = _worker(page)
    assert _shown(page, worker, "kd-red-1") == 1
    assert worker.evaluate(TAP, "kd-red-1") == "tapped"
    # The officer's open app (at /xa) goes to the person's page; the notification is gone.
    expect(page).to_have_url(live_server + url)
    expect(page.get_by_role("heading", name="Võ Thị Hạnh")).to_be_visible()
    assert worker.evaluate("self.registration.getNotifications().then(ns => ns.length)") == 0
    assert len(page.context.pages) == 1

    # A second tap naming the page the app is already on leaves it there (focused, not reloaded).
    page.evaluate("window.kdStillHere = true")
    _deliver(page, live_server, {"title": "x", "url": url, "tag": "kd-red-2"})
    assert _shown(page, worker, "kd-red-2") == 1
    assert worker.evaluate(TAP, "kd-red-2") == "tapped"
    _until(page, lambda: worker.evaluate("self.registration.getNotifications().then(ns => ns.length === 0)"))
    page.wait_for_timeout(500)
    assert page.evaluate("window.kdStillHere") is True and page.url == live_server + url

    # A message naming another site ("/\\host" is "//host" to a URL parser) takes it home instead.
    _deliver(page, live_server, {"title": "x", "url": "/\\evil.example/", "tag": "kd-3"})
    assert _shown(page, worker, "kd-3") == 1
    assert worker.evaluate("self.registration.getNotifications({tag: 'kd-3'}).then(ns => ns[0].data.url)") == "/"
    worker.evaluate(TAP, "kd-3")
    expect(page).to_have_url(re.compile(re.escape(live_server) + r"/(xa)?$"))
    assert len(page.context.pages) == 1
