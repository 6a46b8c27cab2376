"""axe-core in Chromium at 390x844 on the four pages phones open most (declaration, traveller
status, scan screen, commune home) and the states they reach next (form errors, the verdict
card, an opened list): no serious or critical violation of WCAG 2.2 A/AA or axe's best practices.

axe-core comes from npm (devDependencies in package.json, pinned) and is injected with
add_script_tag, so these contexts bypass the CSP (it forbids any script not served by the app).
"""
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kiemdich import clock, qrcodes
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from tests.conftest import skip_or_fail
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import (PASSWORD, AreaLevelFactory, ArrivalFactory, CheckpointFactory, DeclarationFactory,
                             HealthCheckFactory, PassageFactory)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = ("serious", "critical")


@pytest.fixture
def phone(browser, live_server):
    """A 390x844 phone page whose CSP lets the injected axe script run."""
    if not AXE.exists():
        skip_or_fail("Accessibility tests skipped: node_modules/axe-core is missing (npm ci, or make test)")
    context = browser.new_context(viewport=PHONE, base_url=live_server, locale="vi-VN", device_scale_factor=2,
                                  is_mobile=True, has_touch=True, bypass_csp=True,
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    yield page
    context.close()


def violations(page, name: str) -> list[str]:
    """Run axe on the page as it is now; returns the serious and critical violations, readable."""
    screenshot(page, f"a11y-{name}")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
    }""", TAGS)
    return [f"{v['impact']} {v['id']} ({v['help']}): {v['nodes'][:3]}" for v in result if v["impact"] in BLOCKING]


def sign_in(page, username: str, lands_on: str):
    page.goto(f"/dang-nhap?next={lands_on}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(re.escape(lands_on) + "$"))


def test_declaration_page_and_its_errors(phone, app):
    cp = CheckpointFactory(name="Chốt QL13 – Chơn Thành", commune_code="25432")
    db.session.commit()
    phone.goto(f"/c/{cp.code}")
    expect(phone.get_by_role("heading", name="Khai báo di chuyển nội địa")).to_be_visible()
    assert violations(phone, "declaration") == []

    phone.get_by_role("button", name="Gửi khai báo").click()
    expect(phone.get_by_text("Chọn xã, phường nơi đến.")).to_be_visible()
    assert violations(phone, "declaration-errors") == []


def test_traveller_status_with_qr_and_in_monitoring(phone, app):
    waiting = DeclarationFactory(full_name="Trần Thị Bích Ngọc")
    today = clock.today()
    followed = DeclarationFactory(full_name="Lê Văn Tám", travel_date=today - timedelta(days=2))
    passage = PassageFactory(declaration=followed)
    arrival = ArrivalFactory(declaration=followed, passage=passage, status="monitoring",
                             plan_start=today - timedelta(days=2), plan_end=today + timedelta(days=4),
                             arrived_at=followed.created_at)
    HealthCheckFactory(arrival=arrival, check_date=today - timedelta(days=1))
    db.session.commit()
    with app.test_request_context():
        first, second = token_for(waiting), token_for(followed)

    phone.goto(f"/q#{first}")
    expect(phone.locator(".personal-qr svg")).to_be_visible()
    assert violations(phone, "status-qr") == []

    phone.goto("/")  # another person's link on the same phone: a fresh load
    phone.goto(f"/q#{second}")
    expect(phone.locator(".timeline").get_by_text("Theo dõi: ngày 3 / 7")).to_be_visible()
    assert violations(phone, "status-monitoring") == []


def test_scan_screen_and_verdict_card(phone, app, users, live_server):
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory(full_name="Nguyễn Văn Khách")
    db.session.commit()
    with app.test_request_context():
        url = qrcodes.personal_url(token_for(decl), base=live_server)

    sign_in(phone, "chot1", "/chot/quet")
    expect(phone.locator("[data-manual-input]")).to_be_visible()
    assert violations(phone, "scan") == []

    field = phone.locator("[data-manual-input]")
    field.fill(url)
    field.press("Enter")
    expect(phone.locator(".verdict[data-stance]")).to_be_visible()
    assert violations(phone, "scan-verdict") == []


def test_commune_home_and_an_opened_list(phone, app, users):
    today = clock.today()
    for i, (name, status) in enumerate([("Nguyễn Văn Bình", "expected"), ("An Thị Hoa", "monitoring"),
                                        ("Phạm Quốc Huy", "monitoring")]):
        passage = PassageFactory(declaration__full_name=name, declaration__dest_commune_code="25210")
        a = ArrivalFactory(declaration=passage.declaration, passage=passage, status=status, commune_code="25210",
                           plan_start=today - timedelta(days=i), plan_end=today + timedelta(days=6 - i),
                           test_days=[1], expected_at=clock.utcnow() - timedelta(hours=3 + 24 * i),
                           flagged=i == 2)
        if i == 1:
            HealthCheckFactory(arrival=a, check_date=today)
    db.session.commit()

    sign_in(phone, "xa1", "/xa")
    expect(phone.get_by_role("heading", name="Người đến địa bàn")).to_be_visible()
    assert violations(phone, "commune-home") == []

    phone.locator(".tile.expected").click()
    expect(phone.locator("#list li").first).to_contain_text("Nguyễn Văn Bình")
    assert violations(phone, "commune-list") == []


def test_the_check_finds_a_broken_page(phone, app):
    """The harness can fail: a field stripped of its label and a page without a language are caught."""
    cp = CheckpointFactory()
    db.session.commit()
    phone.goto(f"/c/{cp.code}")
    phone.evaluate("""() => { document.querySelector('label[for="full_name"]').remove();
                              document.documentElement.removeAttribute("lang"); }""")
    found = violations(phone, "broken-on-purpose")
    assert any(v.startswith("critical label ") and "#full_name" in v for v in found), found
    assert any(v.startswith("serious html-has-lang ") for v in found), found
