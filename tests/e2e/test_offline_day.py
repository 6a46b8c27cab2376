"""A commune officer's day offline (issue 16 item 3), in Chromium at 390x844 with the network really
gone (browser offline and the server stopped): opening /xa keeps today's lists; offline, 5 arrivals
confirmed and 10 checks recorded for 10 different people, the page reloaded; back online, exactly
those writes, once. Cached personal data goes on sign-out (even without a network), when the
session is over, and at the end of the local day."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalEvent, HealthCheck
from tests.e2e.conftest import screenshot
from tests.e2e.test_followup import arrival, sign_in
from tests.e2e.test_scan import SwitchableServer, _context, _until

KEPT = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const r of await cache.keys()) paths.push(new URL(r.url).pathname);
  }
  return paths;
}"""


@pytest.fixture
def server(app):
    srv = SwitchableServer(app)
    srv.start()
    yield srv
    try:
        srv.stop()
    except OSError:
        pass


def _people():
    expected = [arrival(f"Nguyễn Thị Chờ {i}", f"091200010{i}", status="expected") for i in range(6)]
    due = [arrival(f"Trần Văn Theo Dõi {i}", f"091200020{i}", days_ago=1 + i % 3) for i in range(6)]
    elsewhere = arrival("Lê Văn Xã Khác", "0912000300", status="expected", commune_code="25432")
    db.session.commit()
    return expected, due, elsewhere


def _ready(page, n):
    """The service worker controls the page and today's lists are kept: the box says so."""
    _until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"))
    status = page.locator("[data-offline-day-status]")
    expect(status).to_have_text(re.compile(rf"^Sẵn sàng ngoại tuyến: {n} người · \d\d:\d\d$"), timeout=45000)


def _kept(page):
    return [p for p in page.evaluate(KEPT) if p.startswith("/xa") or p == "/__kd/day"]


def _watch(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "ERR_" not in m.text
            and "Failed to load resource" not in m.text else None)
    return errors


def test_day_offline_five_arrivals_ten_checks_then_replayed_once(browser, app, users, server):
    expected, due, elsewhere = _people()
    context = _context(browser, server)
    page = context.new_page()
    errors = _watch(page)
    sign_in(page)  # opening /xa keeps today's lists by itself
    _ready(page, 12)
    screenshot(page, "offline-day-ready")
    page.get_by_role("button", name="Tải danh sách hôm nay").click()  # again, by hand: still 12
    _ready(page, 12)

    server.stop()
    context.set_offline(True)
    page.goto("/xa/hom-nay")
    expect(page.get_by_role("heading", name="Chờ đến (6)")).to_be_visible()
    expect(page.get_by_role("heading", name="Chưa kiểm tra hôm nay (6)")).to_be_visible()
    expect(page.get_by_text("Lê Văn Xã Khác")).to_have_count(0)  # not in the officer's communes

    writes = {}  # arrival id -> temperature typed
    for i, person in enumerate(expected[:5] + due[:5]):
        name = person.declaration.full_name
        page.get_by_role("link", name=re.compile(name)).click()
        expect(page).to_have_url(re.compile(f"/xa/nguoi-den/{person.declaration.code}$"))
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        if i < 5:
            page.get_by_role("button", name="Đã đến — đến nhà kiểm tra").click()
            expect(page.locator(".verdict-result.queued")).to_have_count(1)
        else:
            expect(page.get_by_role("button", name="Đã đến — đến nhà kiểm tra")).to_have_count(0)
        temperature = f"36,{i}"
        page.get_by_label("Nhiệt độ (°C)").fill(temperature)
        page.get_by_role("button", name="Lưu kiểm tra").click()
        expect(page.locator(".verdict-result.queued")).to_have_count(2 if i < 5 else 1)
        writes[person.id] = temperature.replace(",", ".")
        if i == 0:
            screenshot(page, "offline-day-person")
        page.get_by_role("link", name="« Danh sách hôm nay").click()
        expect(page.get_by_role("heading", name="Chờ đến (6)")).to_be_visible()

    banner = page.locator("[data-outbox-banner]")
    expect(banner).to_contain_text("15 chưa đồng bộ")
    expect(page.locator(".people li.queued")).to_have_count(10)
    page.reload()  # still offline: the kept sheet, the queue still there
    expect(banner).to_contain_text("15 chưa đồng bộ")
    page.get_by_role("link", name=re.compile(expected[0].declaration.full_name)).click()
    page.reload()
    expect(page.get_by_role("heading", name=expected[0].declaration.full_name, exact=True)).to_be_visible()
    expect(page.locator("form[data-outbox]:visible")).to_have_count(0)  # both writes shown as waiting
    expect(page.locator(".verdict-result.queued")).to_have_count(2)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(HealthCheck)) == 0

    server.start()
    context.set_offline(False)  # the `online` event starts the replay
    expect(banner).to_contain_text("Đã đồng bộ hết", timeout=30000)
    page.evaluate("kdOutbox.flush()")  # a second replay sends nothing more
    assert page.evaluate("kdOutbox.items().then(a => a.length)") == 0

    db.session.expire_all()
    checks = db.session.scalars(select(HealthCheck)).all()
    assert sorted((c.arrival_id, str(c.temperature)) for c in checks) == sorted(writes.items())
    statuses = {a.id: (a.status, a.confirmed_how) for a in db.session.scalars(select(Arrival))}
    for person in expected[:5]:
        assert statuses[person.id] == ("monitoring", "visit")
    confirmed = db.session.scalars(select(ArrivalEvent.arrival_id).where(ArrivalEvent.action == "confirmed")).all()
    assert sorted(confirmed) == sorted(p.id for p in expected[:5])  # one confirmation each
    assert statuses[expected[5].id][0] == "expected"
    assert statuses[elsewhere.id][0] == "expected"
    assert errors == []
    context.close()


def test_sign_out_and_session_end_delete_the_cached_personal_data(browser, app, users, server):
    expected, due, _elsewhere = _people()
    context = _context(browser, server)
    page = context.new_page()
    sign_in(page)
    _ready(page, 12)
    person = f"/xa/nguoi-den/{due[0].declaration.code}"
    page.goto(person)  # visited online: its full page is kept too
    expect(page.get_by_role("heading", name=due[0].declaration.full_name)).to_be_visible()
    assert {"/xa", "/xa/hom-nay", "/__kd/day", person} <= set(_kept(page))

    # Signing out without a network: the phone forgets before the form is even sent.
    server.stop()
    context.set_offline(True)
    page.get_by_role("button", name="Đăng xuất").click()
    # The form's POST fails offline (an error page): wait until that navigation happened, or it
    # interrupts the next one.
    try:
        page.wait_for_url(lambda url: "/dang-xuat" in url or url.startswith("chrome-error"), timeout=15000)
    except PlaywrightError as error:  # the navigation failed offline: it happened, as expected
        assert "ERR_INTERNET_DISCONNECTED" in str(error)
    page.wait_for_load_state()
    for _attempt in range(5):  # a slow machine may still be ending the failed POST's navigation
        try:
            page.goto(person)  # what anyone holding the phone would see: the offline page, nobody's name
            break
        except PlaywrightError as error:
            assert "interrupted by another navigation" in str(error)
            page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name="Mất mạng")).to_be_visible()
    expect(page.get_by_text(due[0].declaration.full_name)).to_have_count(0)
    page.goto("/xa/hom-nay")
    expect(page.get_by_role("heading", name="Mất mạng")).to_be_visible()
    assert _kept(page) == []

    # The session ends (idle timeout, revoked) while the lists are kept: the sign-in redirect clears them.
    server.start()
    context.set_offline(False)
    page.goto("/xa")  # the sign-out never reached the server: still signed in there
    _ready(page, 12)
    assert "/xa/hom-nay" in _kept(page)
    context.clear_cookies()
    page.goto("/xa/hom-nay")
    expect(page).to_have_url(re.compile("/dang-nhap"))
    assert _kept(page) == []
    context.close()


def test_yesterdays_lists_are_gone_at_the_end_of_the_day(browser, app, users, server):
    expected, _due, _elsewhere = _people()
    context = _context(browser, server)
    page = context.new_page()
    sign_in(page)
    _ready(page, 12)
    person = f"/xa/nguoi-den/{expected[0].declaration.code}"
    # The same kept sheet and note, as if kept yesterday (the service worker reads their dates).
    yesterday = (clock.utcnow() - timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    page.evaluate("""async (date) => {
      for (const name of await caches.keys()) {
        if (!name.startsWith("kd-keep-")) continue;
        const cache = await caches.open(name);
        for (const path of ["/xa", "/xa/hom-nay", "/__kd/day"]) {
          const r = await cache.match(path);
          const headers = new Headers(r.headers);
          headers.set("Date", date);
          await cache.put(path, new Response(await r.blob(), {headers}));
        }
      }
    }""", yesterday)
    server.stop()
    context.set_offline(True)
    page.goto(person)
    expect(page.get_by_role("heading", name="Mất mạng")).to_be_visible()
    assert _kept(page) == []
    context.close()
