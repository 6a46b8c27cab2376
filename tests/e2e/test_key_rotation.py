"""Key rotation seen from a checkpoint phone at 390x844: with the network gone, the scan screen
verifies a code signed by the retired key and one signed by the new key with the JWK set it
loaded, and still refuses a forged one."""
import re

import pytest
from playwright.sync_api import expect

from kiemdich import clock, qrcodes, tokens
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, AreaLevelFactory, DeclarationFactory


@pytest.fixture(autouse=True)
def no_reload_delay(monkeypatch):
    monkeypatch.setattr(tokens, "RELOAD_SECONDS", 0)


def scan(page, url):
    field = page.locator("[data-manual-input]")
    field.fill(url)
    field.press("Enter")


def test_offline_scan_screen_trusts_the_old_and_the_new_key(page, app, users, live_server):
    AreaLevelFactory(area_code="79", level=4)
    before, after = DeclarationFactory(full_name="Lê Văn Cũ"), DeclarationFactory(full_name="Phạm Thị Mới")
    db.session.commit()
    with app.test_request_context():
        old_code = qrcodes.personal_url(token_for(before), base=live_server)
        tokens.prepare_next(tokens.key_path(app))
        tokens.rotate(tokens.key_path(app), now=clock.utcnow(), passage_until=before.valid_until)
        new_code = qrcodes.personal_url(token_for(after), base=live_server)
        raw = bytearray(tokens._unb64(token_for(after)))
        raw[27] ^= 2  # one letter of the name changed: no key signed this
        forged = qrcodes.personal_url(tokens._b64(bytes(raw)), base=live_server)
        assert len(tokens.public_jwks()["keys"]) == 2

    page.goto("/dang-nhap?next=/chot/quet")
    page.get_by_label("Tên đăng nhập").fill("chot1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page).to_have_url(re.compile(r"/chot/quet$"))
    page.wait_for_load_state("networkidle")  # the key set is in
    page.context.set_offline(True)

    scan(page, old_code)
    expect(page.locator(".verdict[data-local]")).to_contain_text("LE VAN CU")
    scan(page, new_code)
    expect(page.locator(".verdict[data-local]")).to_contain_text("PHAM THI MOI")
    screenshot(page, "scan-after-key-rotation")
    scan(page, forged)
    expect(page.locator(".verdict.bad")).to_contain_text("Mã QR giả hoặc của nơi khác")
    expect(page.locator(".verdict[data-local]")).to_have_count(0)
