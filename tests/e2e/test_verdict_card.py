"""The checkpoint verdict card follows the computed instruction (issue 11, items 1 and 3), and the
docs/ screenshots of it for an allowed, a self-monitoring and a quarantined traveller.

KIEMDICH_VERDICT_SHOTS=before|after writes docs/verdict-<kind>-<stage>.png (390x844, scale 1)."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kiemdich.extensions import db
from tests.e2e.conftest import PHONE
from tests.e2e.test_scan import _login, _scan_by_hand, _url, server  # noqa: F401 (fixture)
from tests.factories import AreaLevelFactory, DeclarationFactory

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _three():
    """An allowed (level 1 origin), a self-monitoring (level 4, vaccinated) and a centralised
    quarantine (level 4, unvaccinated, fever and cough) traveller."""
    AreaLevelFactory(area_code="79", level=4)
    allowed = DeclarationFactory(full_name="Phạm Thị Lan", origin_province_code="01", origin_commune_code=None)
    monitor = DeclarationFactory(full_name="Trần Văn Bình")
    quarantine = DeclarationFactory(full_name="Lê Hoàng Việt", vaccine_doses=0, last_dose_date=None,
                                    symptoms=["sot", "ho"])
    db.session.commit()
    return {"allowed": allowed, "monitoring": monitor, "quarantine": quarantine}


@pytest.mark.skipif(not os.environ.get("KIEMDICH_VERDICT_SHOTS"), reason="docs screenshots on demand")
def test_docs_screenshots_of_the_verdict_card(browser, app, users, server):  # noqa: F811
    stage = os.environ["KIEMDICH_VERDICT_SHOTS"]
    people = _three()
    context = browser.new_context(viewport=PHONE, base_url=server.url, locale="vi-VN", device_scale_factor=1,
                                  is_mobile=True, has_touch=True, timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    _login(page)
    for kind, decl in people.items():
        _scan_by_hand(page, _url(server, decl))
        expect(page.locator("#verdict .verdict")).to_contain_text(decl.full_name)  # the server's card
        page.wait_for_timeout(300)
        page.screenshot(path=str(DOCS / f"verdict-{kind}-{stage}.png"))
    context.close()
