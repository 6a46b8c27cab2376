""""Lưu ảnh mã QR" on the traveller's status page: the PNG is drawn only when asked for (issue 14),
downloaded as a file, and it decodes to the personal link."""
import io

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from tests.e2e.conftest import screenshot
from tests.factories import DeclarationFactory


def test_save_qr_image_downloads_the_png(page, app, live_server):
    decl = DeclarationFactory(full_name="Phạm Thị Hồng")
    db.session.commit()
    with app.test_request_context(base_url=live_server):
        token = token_for(decl)
    page.goto(f"/q#{token}")
    expect(page.locator(".personal-qr svg")).to_be_visible()
    button = page.get_by_role("button", name="Lưu ảnh mã QR")
    expect(button).to_be_visible()
    screenshot(page, "status-save-qr")
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == f"ma-qr-{decl.code}.png"
    image = Image.open(io.BytesIO(open(download.path(), "rb").read()))
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [f"{live_server}/q#{token}"]
    assert "anh-qr" not in page.url and "#" in page.url  # the page stays; the token never went into a URL
    assert page.console_errors == []
