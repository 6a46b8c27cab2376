"""Commune follow-up in Chromium at 390x844: the officer confirms an arrival and records a check
offline through the outbox; the returnee confirms and declares symptoms from the status link;
the symptomatic person comes first, in red."""
import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.followup import operations as ops
from kiemdich.models import Arrival, HealthCheck
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import PASSWORD, ArrivalFactory, HealthCheckFactory, PassageFactory

RED = "rgb(180, 35, 24)"  # --red


def arrival(name, phone, status="monitoring", days_ago=0, **kwargs):
    start = clock.today() - timedelta(days=days_ago)
    passage = PassageFactory(declaration__full_name=name, declaration__phone=phone)
    return ArrivalFactory(declaration=passage.declaration, passage=passage, status=status, plan_start=start,
                          plan_end=start + timedelta(days=6), test_days=[1],
                          expected_at=clock.utcnow() - timedelta(hours=3 + 24 * days_ago), **kwargs)


def checks_of(a) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(HealthCheck).where(HealthCheck.arrival_id == a.id))


def sign_in(page):
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("xa1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/xa$"))


def test_officer_confirms_then_records_a_check_offline(page, users, app):
    binh = arrival("Nguyễn Văn Bình", "0912000111", status="expected")
    for i, (name, phone) in enumerate([("An Thị Hoa", "0912000222"), ("Lê Minh Tâm", "0912000333"),
                                       ("Phạm Quốc Huy", "0912000444")]):
        a = arrival(name, phone, days_ago=i + 1)
        if i == 0:
            HealthCheckFactory(arrival=a, check_date=clock.today())
    arrival("Trần Thị Quá Hạn", "0912000555", status="expected", days_ago=2)
    db.session.commit()

    sign_in(page)
    expect(page.get_by_role("heading", name="Người đến địa bàn")).to_be_visible()
    expect(page.locator(".tile.expected .n")).to_have_text("2")
    expect(page.get_by_text("1 người chờ đến quá 24 giờ")).to_be_visible()
    screenshot(page, "followup-home")

    page.locator(".tile.expected").click()
    expect(page.locator(".people-card h2")).to_have_text("Chờ đến")
    expect(page.locator("#list li").first).to_contain_text("Trần Thị Quá Hạn")  # overdue first
    expect(page.locator("#list li.late")).to_have_count(1)
    page.get_by_role("searchbox").fill("nguyen van binh")  # searched as typed; Enter searches at once
    page.get_by_role("searchbox").press("Enter")
    expect(page.locator("#list li")).to_have_count(1)
    expect(page.locator('#list a[href="tel:0912000111"]')).to_be_visible()
    screenshot(page, "followup-list")
    page.get_by_role("searchbox").fill("")
    page.get_by_role("searchbox").press_sequentially("0912000555", delay=30)  # as typed, by phone
    expect(page.locator("#list li")).to_have_count(1)
    expect(page.locator("#list li")).to_contain_text("Trần Thị Quá Hạn")
    page.get_by_role("searchbox").fill("nguyen van binh")
    page.get_by_role("searchbox").press("Enter")

    page.get_by_role("link", name=re.compile("Nguyễn Văn Bình")).click()
    expect(page.get_by_role("heading", name="Nguyễn Văn Bình")).to_be_visible()
    page.get_by_role("button", name="Đã đến — đến nhà kiểm tra").click()
    expect(page.get_by_text("Đã xác nhận người đến.")).to_be_visible()
    db.session.expire_all()
    assert db.session.get(Arrival, binh.id).status == "monitoring"

    # No network: the check waits on the phone
    page.context.set_offline(True)
    page.get_by_label("Nhiệt độ (°C)").fill("38,4")
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label("SpO2 (%)").fill("95")
    page.get_by_role("button", name="Lưu kiểm tra").click()
    expect(page.get_by_text("Đã lưu trên máy, sẽ gửi khi có mạng.")).to_be_visible()
    expect(page.locator("[data-outbox-summary]")).to_contain_text("1")
    assert checks_of(binh) == 0
    screenshot(page, "followup-detail-offline")

    # Back online: sent once, the answer replaces the page's content
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_text("Đã lưu kết quả kiểm tra sức khỏe.")).to_be_visible(timeout=15000)
    page.evaluate("kdOutbox.flush()")  # a second replay sends nothing more
    assert page.evaluate("kdOutbox.items().then(a => a.length)") == 0
    assert checks_of(binh) == 1
    check = db.session.scalar(select(HealthCheck).where(HealthCheck.arrival_id == binh.id))
    assert (str(check.temperature), check.symptoms, check.spo2, check.source) == ("38.4", ["ho"], 95, "visit")
    expect(page.locator(".badge.red")).to_have_text("Có dấu hiệu bệnh")
    screenshot(page, "followup-detail")

    page.goto("/xa")
    first = page.locator("#list li").first
    expect(first).to_contain_text("Nguyễn Văn Bình")
    expect(first).to_have_class("red")
    assert first.evaluate("e => getComputedStyle(e).borderLeftColor") == RED
    expect(page.locator(".tile.symptomatic .n")).to_have_text("1")
    screenshot(page, "followup-home-symptomatic")
    assert [e for e in page.console_errors if "net::ERR_INTERNET_DISCONNECTED" not in e] == []


def test_returnee_confirms_arrival_and_declares_symptoms_offline(page, browser, live_server, users, app):
    ha = arrival("Hoàng Thị Thu Hà", "0987001122", status="expected")
    arrival("Đỗ Văn Khỏe", "0987003344", days_ago=2)
    ops.set_station("25210", phone="0271 3879 115", lat=11.535, lon=106.883, user=users["commune"])
    db.session.commit()
    token = token_for(ha.declaration)

    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 11.5401, "longitude": 106.8897})  # ~1 km from the station
    page.goto(f"/q#{token}")
    expect(page.get_by_role("heading", name="Bạn đã đến nơi chưa?")).to_be_visible()
    expect(page.locator('a[href="tel:02713879115"]')).to_be_visible()
    screenshot(page, "followup-returnee-arrive")
    page.get_by_label(re.compile("Dùng vị trí của tôi")).check()
    expect(page.locator("#kd-returnee input[name=lat]")).not_to_have_value("")
    page.get_by_role("button", name="Tôi đã đến nơi").click()
    expect(page.get_by_text("Trạm y tế đã biết bạn đã đến nơi")).to_be_visible()
    db.session.expire_all()
    confirmed = db.session.get(Arrival, ha.id)
    assert (confirmed.status, confirmed.confirmed_how, confirmed.near_declared_commune) == ("monitoring", "self", True)

    # The daily declaration, sent with no network and replayed when it comes back
    page.context.set_offline(True)
    page.get_by_label("Sốt", exact=True).check()
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label("Nhiệt độ (°C), nếu có đo").fill("38,5")
    page.get_by_role("button", name="Gửi khai báo hôm nay").click()
    expect(page.get_by_text("Đã lưu trên máy, sẽ gửi khi có mạng.")).to_be_visible()
    assert checks_of(ha) == 0
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_text("Bạn đã báo có dấu hiệu bệnh")).to_be_visible(timeout=15000)
    expect(page.get_by_text(re.compile("Đã khai báo sức khỏe hôm nay"))).to_be_visible()
    assert checks_of(ha) == 1
    expect(page.get_by_text(re.compile(r"Theo dõi: ngày 1 / 7")).first).to_be_visible()
    expect(page.get_by_text("Còn 6 ngày")).to_be_visible()
    screenshot(page, "followup-returnee-status")

    officer = browser.new_context(viewport=PHONE, base_url=live_server, locale="vi-VN", device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    desk = officer.new_page()
    sign_in(desk)
    first = desk.locator("#list li").first
    expect(first).to_contain_text("Hoàng Thị Thu Hà")
    expect(first).to_have_class("red")
    desk.get_by_role("link", name=re.compile("Hoàng Thị Thu Hà")).click()
    expect(desk.get_by_text("Người đến tự báo · ở gần xã")).to_be_visible()
    screenshot(desk, "followup-detail-returnee")
    officer.close()
