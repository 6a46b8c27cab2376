"""In Chromium at 390x844: the same person followed twice (made before one person, one
follow-up) is one row in the officer's list; one tap on their page merges the two."""
import re

from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import Arrival
from tests.e2e.conftest import screenshot
from tests.e2e.test_followup import sign_in
from tests.test_merge_duplicates import duplicate_pair


def test_the_officer_merges_the_two_rows_of_one_person(page, users, app):
    older, newer = duplicate_pair()
    sign_in(page)
    page.locator(".tile.monitoring").click()
    rows = page.locator("#list li")
    expect(rows.filter(has_text=re.compile("Lê Văn Tám|LÊ VĂN TÁM", re.I))).to_have_count(1)
    expect(rows.first).to_contain_text("trùng người · cần gộp")
    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile("/xa/nguoi-den/"))
    card = page.locator(".duplicates")
    expect(card.get_by_role("heading", name="Người này còn đang được theo dõi ở 1 dòng khác")).to_be_visible()
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot(page, "merge-duplicates").with_name("merge-duplicates-390.png")))
    card.get_by_role("button", name="Gộp thành một người").click()
    expect(page.get_by_role("status").filter(has_text="Đã gộp hai lượt theo dõi của người này thành một.")).to_be_visible()
    expect(page.locator(".trips")).to_contain_text("2 chuyến đi của người này")
    expect(page.locator(".duplicates")).to_have_count(0)
    db.session.expire_all()
    assert db.session.scalars(select(Arrival.status).order_by(Arrival.id)).all() == ["monitoring", "merged"]
    screenshot(page, "merge-done")
    assert page.console_errors == [], page.console_errors
