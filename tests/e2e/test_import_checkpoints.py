"""A list that names its checkpoints: the checkpoints step on a phone (screenshot), then the dry run."""
from playwright.sync_api import expect
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import Checkpoint
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, CheckpointFactory
from tests.factories_imports import xlsx
from tests.test_imports import person


def test_checkpoint_names_step(page, users, app, tmp_path):
    ours = db.session.scalar(select(Checkpoint))
    bridge = CheckpointFactory(commune_code="25210", name="Chốt Cầu Sài Gòn")
    db.session.commit()
    rows = [person(1, checkpoint="CHOT CAU SAI GON"), person(2, checkpoint="Trạm phía Bắc"),
            person(3, checkpoint="Trạm phía Bắc")]
    path = tmp_path / "danh-sach-huyen.xlsx"
    path.write_bytes(xlsx(rows))

    page.goto("/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("super1")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_label("Mật khẩu").press("Enter")
    page.goto("/nhap/")
    page.get_by_label("Tệp").set_input_files(str(path))
    page.get_by_role("button", name="Tải lên và đọc").click()
    expect(page.get_by_role("heading", name="Các cột")).to_be_visible(timeout=15000)
    page.get_by_role("button", name="Chạy thử").click()

    expect(page.get_by_role("heading", name="Các chốt ghi trong tệp")).to_be_visible(timeout=15000)
    expect(page.get_by_label("CHOT CAU SAI GON")).to_have_value(str(bridge.id))
    expect(page.get_by_label("Trạm phía Bắc")).to_have_value("")
    page.get_by_label("Trạm phía Bắc").select_option(str(ours.id))
    screenshot(page, "import-checkpoints")
    page.get_by_role("button", name="Chạy thử").click()
    expect(page.get_by_role("heading", name="Chạy thử: chưa ghi gì")).to_be_visible(timeout=15000)
    assert page.console_errors == []
