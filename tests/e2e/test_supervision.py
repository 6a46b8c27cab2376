"""A supervisor on a phone: the dashboard (chart, table, drill-down, reveal) and the rules preview."""
import re
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from kiemdich.rules.plan import compute_plan
from tests.e2e.conftest import ARTIFACTS, screenshot
from tests.factories import PASSWORD
from tests.factories_supervision import PERIOD, dashboard_dataset


def sign_in(page, username="super1"):
    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/tinh$"))


def no_csp_errors(page):
    assert not [e for e in page.console_errors if "Content Security Policy" in e or "Refused to" in e]


def test_dashboard_chart_table_drill_down_and_reveal(page, users, app):
    dashboard_dataset()
    sign_in(page)
    page.goto(f"/tinh?start={PERIOD['start']}&end={PERIOD['end']}")
    expect(page.get_by_role("heading", name="Tổng quan địa bàn")).to_be_visible()
    chart = page.locator("#chart-passages")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["width"] <= 390  # fits the phone, no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert chart.locator("g.bar").count() == 7
    expect(page.locator("#t-day-passages tfoot td").first).to_have_text("5")
    screenshot(page, "supervisor-dashboard")
    page.locator("section.card", has=page.locator("#t-day-arrivals")).screenshot(
        path=str(ARTIFACTS / "supervisor-dashboard-table.png"))

    chart.locator('g.bar[data-day="2021-10-02"]').click()  # the bar is a link to the list behind it
    expect(page.get_by_role("heading", name="Qua chốt: 2")).to_be_visible()
    expect(page.get_by_text("Người Hai")).to_be_visible()
    expect(page.get_by_text("Người Ba")).to_be_visible()
    row = page.locator("li", has_text="Người Hai")
    expect(row.locator(".idn")).to_contain_text("••••••••0002")
    row.get_by_role("button", name="Hiện đầy đủ số giấy tờ").click()
    expect(row.locator(".idn.revealed")).to_have_text("075190000002")
    screenshot(page, "supervisor-drill-reveal")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "id.reveal")).all()
    assert len(events) == 1 and events[0].username == "super1"
    no_csp_errors(page)


def test_rules_copy_edit_and_preview(page, users, app):
    sign_in(page)
    page.get_by_role("link", name="Quy định").click()
    page.get_by_role("link", name="Phiên bản 1").click()
    page.get_by_role("button", name="Sao chép thành bản nháp mới").click()
    expect(page.get_by_role("heading", name=re.compile("Phiên bản 2"))).to_be_visible()

    line = page.locator("li[id^=line-]", has_text="Tiêm chưa đủ liều").nth(3)  # level 4
    line.get_by_role("button", name="Sửa").click()
    form = page.locator("form.line-edit")
    expect(form).to_be_visible()
    form.get_by_label("Số ngày", exact=True).fill("10")
    form.get_by_label("Ngày xét nghiệm (1 = ngày đến)").fill("1, 5, 10")
    form.get_by_role("button", name="Lưu dòng này").click()
    expect(page.locator("li[id^=line-]", has_text="Cách ly tại nhà 10 ngày")).to_be_visible()

    arrival = date(2021, 11, 20)
    preview = page.locator("form[hx-get*=xem-truoc]")
    preview.get_by_label("Cấp độ dịch nơi đi").select_option("4")
    preview.get_by_label("Số mũi vắc xin").fill("1")
    preview.get_by_label("Ngày tiêm mũi gần nhất").fill((arrival - timedelta(days=60)).isoformat())
    preview.get_by_label("Ngày đến").fill(arrival.isoformat())
    preview.get_by_role("button", name="Xem trước").click()
    plan = compute_plan(4, "partial", arrival, version=2)
    box = page.locator("#preview .plan").first
    expect(box).to_contain_text("Cách ly tại nhà · 10 ngày")
    expect(box.locator(".p-period")).to_have_text(f"{plan.start:%d/%m/%Y} – {plan.end:%d/%m/%Y}")
    expect(box.locator(".p-tests")).to_have_text(", ".join(d.strftime("%d/%m/%Y") for d in plan.test_dates()))
    expect(page.locator("#preview .plan.other")).to_contain_text("Cách ly tại nhà · 7 ngày")
    page.locator("#preview").scroll_into_view_if_needed()
    screenshot(page, "rules-preview")
    no_csp_errors(page)
