"""Checkpoints: supervisors manage those of their area only; posters, QR downloads, code rotation."""
import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from kiemdich.checkpoints import operations as ops
from kiemdich.extensions import db
from kiemdich.models import AuditEvent, Checkpoint, RetiredCheckpointCode, UserCheckpoint
from tests.conftest import csrf_token
from tests.factories import CheckpointFactory, UserFactory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def other_area(app):
    """A supervisor of Hồ Chí Minh City (79) and a checkpoint there."""
    sup = UserFactory(username="super79", role="supervisor", area_codes=["79"])
    cp = CheckpointFactory(commune_code="26743", name="Chốt Bến Thành")
    db.session.commit()
    return sup, cp


def _post(client, path, data=None, csrf_from=None):
    data = dict(data or {}, csrf_token=csrf_token(client, csrf_from or "/checkpoints/"))
    return client.post(path, data=data)


def test_supervisor_creates_a_checkpoint_in_the_area(app, client, auth, users):
    auth.login("super1")
    page = client.get("/checkpoints/new")
    assert page.status_code == 200 and 'id="commune-picker"' in page.get_data(as_text=True)
    response = _post(client, "/checkpoints/new", {"name": "Chốt ĐT741 – Đồng Phú", "commune": "25363",
                                                  "road": "Đường tỉnh 741", "lat": "11.392", "lon": "106.835"},
                     csrf_from="/checkpoints/new")
    cp = db.session.scalar(select(Checkpoint).where(Checkpoint.name == "Chốt ĐT741 – Đồng Phú"))
    assert response.status_code == 302 and response.location == f"/checkpoints/{cp.id}"
    assert cp.commune_code == "25363" and cp.active and cp.poster_version == 1 and cp.lat == 11.392
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", cp.code)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "checkpoint.create"))
    assert event.user_id == users["supervisor"].id and event.after["code"] == cp.code


@pytest.mark.parametrize("data,message", [
    ({"name": "", "commune": "25363"}, "Nhập tên chốt."),
    ({"name": "Chốt", "commune": ""}, "Chọn xã, phường nơi đặt chốt."),
    ({"name": "Chốt", "commune": "26743"}, "Xã, phường này không thuộc địa bàn của bạn."),
    ({"name": "Chốt", "commune": "25363", "lat": "11.3"}, "Nhập cả vĩ độ và kinh độ, hoặc để trống cả hai."),
    ({"name": "Chốt", "commune": "25363", "lat": "91", "lon": "106"}, "Vĩ độ nằm trong khoảng -90 đến 90"),
    ({"name": "Chốt", "commune": "25363", "lat": "abc", "lon": "106"}, "Nhập một số, ví dụ 11.4290"),
])
def test_bad_checkpoint_input_is_refused_with_a_message(app, client, auth, users, data, message):
    auth.login("super1")
    response = _post(client, "/checkpoints/new", data, csrf_from="/checkpoints/new")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Checkpoint)) == 1  # only the fixture's


def test_supervisor_of_another_area_gets_404_everywhere(app, client, auth, users, other_area):
    _sup79, theirs = other_area
    auth.login("super1")
    assert client.get("/checkpoints/").status_code == 200
    assert theirs.name not in client.get("/checkpoints/").get_data(as_text=True)
    for path in ("", "/edit", "/poster", "/qr.svg", "/qr.png"):
        assert client.get(f"/checkpoints/{theirs.id}{path}").status_code == 404, path
    for path, data in (("/rotate", {}), ("/active", {"active": "0"}), ("/staff", {}),
                       ("/edit", {"name": "x", "commune": "25210"})):
        assert _post(client, f"/checkpoints/{theirs.id}{path}", data).status_code == 404, path
    db.session.refresh(theirs)
    assert theirs.active and theirs.poster_version == 1 and theirs.name == "Chốt Bến Thành"


def test_other_roles(app, client, auth, users, other_area):
    own = users["checkpoint"].checkpoints[0].checkpoint
    _sup, theirs = other_area
    auth.login("chot1")
    assert client.get("/checkpoints/").status_code == 403
    assert client.get(f"/checkpoints/{own.id}/edit").status_code == 403
    assert client.get(f"/checkpoints/{own.id}/poster").status_code == 200  # staff print their poster
    assert client.get(f"/checkpoints/{own.id}/qr.png").status_code == 200
    assert client.get(f"/checkpoints/{theirs.id}/poster").status_code == 404
    auth.logout()
    for user in ("xa1", "admin1"):
        auth.login(user)
        assert client.get("/checkpoints/").status_code == 403
        assert client.get(f"/checkpoints/{own.id}/poster").status_code == 403
        auth.logout()
    assert client.get("/checkpoints/").status_code == 302  # signed out: to the sign-in page


def test_supervisor_of_a_commune_cluster_sees_only_those_communes(app, client, auth, users):
    UserFactory(username="cluster", role="supervisor", area_codes=["25432", "25399"])
    inside = CheckpointFactory(commune_code="25432")
    outside = CheckpointFactory(commune_code="25363")
    db.session.commit()
    auth.login("cluster")
    listing = client.get("/checkpoints/").get_data(as_text=True)
    assert inside.code in listing and outside.code not in listing
    assert client.get(f"/checkpoints/{outside.id}").status_code == 404


def test_edit_keeps_the_code(app, client, auth, users):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    code = cp.code
    auth.login("super1")
    response = _post(client, f"/checkpoints/{cp.id}/edit", {"name": "Chốt mới", "commune": "25210", "road": "QL14"})
    assert response.status_code == 302 and response.location == f"/checkpoints/{cp.id}"
    db.session.refresh(cp)
    assert (cp.name, cp.road, cp.code) == ("Chốt mới", "QL14", code)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "checkpoint.update"))
    assert event.before["name"] != event.after["name"]


def test_rotating_the_code_retires_old_posters(app, client, auth, users):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    old = cp.code
    auth.login("super1")
    response = _post(client, f"/checkpoints/{cp.id}/rotate")
    assert response.status_code == 302 and response.location == f"/checkpoints/{cp.id}"
    db.session.refresh(cp)
    assert cp.code != old and cp.poster_version == 2
    assert db.session.get(RetiredCheckpointCode, old).checkpoint_id == cp.id
    auth.logout()
    gone = client.get(f"/c/{old}")
    assert gone.status_code == 410 and "Mã QR này đã được thay" in gone.get_data(as_text=True)
    assert client.get(f"/c/{cp.code}").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "checkpoint.rotate_code"))
    assert event.before == {"code": old} and event.after == {"code": cp.code}


def test_deactivate_and_reactivate(app, client, auth, users):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    auth.login("super1")
    _post(client, f"/checkpoints/{cp.id}/active", {"active": "0"})
    _post(client, f"/checkpoints/{cp.id}/active", {"active": "0"})  # idempotent
    db.session.refresh(cp)
    assert not cp.active
    assert client.get(f"/c/{cp.code}").status_code == 410
    _post(client, f"/checkpoints/{cp.id}/active", {"active": "1"})
    db.session.refresh(cp)
    assert cp.active and client.get(f"/c/{cp.code}").status_code == 200
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("checkpoint.%activate")).order_by(AuditEvent.id)).all()
    assert actions == ["checkpoint.deactivate", "checkpoint.activate"]


def test_assigning_staff(app, client, auth, users, other_area):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    free = UserFactory(username="tnv2", role="checkpoint", full_name="Tình nguyện viên 2")
    _sup79, theirs = other_area
    foreign = UserFactory(username="chot79", role="checkpoint", checkpoint_ids=[theirs.id])
    db.session.commit()
    auth.login("super1")
    page = client.get(f"/checkpoints/{cp.id}").get_data(as_text=True)
    assert "tnv2" in page and "chot1" in page and "chot79" not in page
    assert _post(client, f"/checkpoints/{cp.id}/staff", {"staff": [str(free.id)]}).status_code == 302
    staff = set(db.session.scalars(select(UserCheckpoint.user_id).where(UserCheckpoint.checkpoint_id == cp.id)))
    assert staff == {free.id}  # chot1 removed, tnv2 added
    response = _post(client, f"/checkpoints/{cp.id}/staff", {"staff": [str(free.id), str(foreign.id)]})
    assert response.status_code == 302
    staff = set(db.session.scalars(select(UserCheckpoint.user_id).where(UserCheckpoint.checkpoint_id == cp.id)))
    assert staff == {free.id}  # a supervisor cannot take staff from another area
    assert [c.checkpoint_id for c in foreign.checkpoints] == [theirs.id]


def test_poster_page_has_name_steps_hotline_and_the_qr(app, client, auth, users):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    auth.login("super1")
    html = client.get(f"/checkpoints/{cp.id}/poster").get_data(as_text=True)
    assert cp.name in html and "1900 9095" in html
    steps = re.findall(r"<li><strong>([^<]+)</strong>", html)
    assert steps == ["Quét", "Khai báo", "Đưa"]
    assert f"/c/{cp.code}" in html and '<svg viewBox="0 0' in html and 'class="qr"' in html
    assert "css/poster.css" in html and " style=" not in html and "<script>" not in html


def test_poster_print_css_makes_the_qr_at_least_15_cm():
    css = (ROOT / "static/css/poster.css").read_text()
    print_block = css[css.index("@media print"):]
    rule = re.search(r"\.poster-qr svg\s*\{([^}]*)\}", print_block).group(1)
    sizes = dict(re.findall(r"(width|height)\s*:\s*([\d.]+)cm", rule))
    assert float(sizes["width"]) >= 15 and float(sizes["height"]) >= 15
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", css)


def test_hotline_comes_from_settings(app, client, auth, users):
    from kiemdich.models import Setting

    db.session.add(Setting(key="hotline", value="0271 3879 119"))
    db.session.commit()
    cp = users["checkpoint"].checkpoints[0].checkpoint
    auth.login("super1")
    assert "0271 3879 119" in client.get(f"/checkpoints/{cp.id}/poster").get_data(as_text=True)


def test_downloads_decode_to_the_checkpoint_url(app, client, auth, users):
    cp = users["checkpoint"].checkpoints[0].checkpoint
    auth.login("super1")
    png = client.get(f"/checkpoints/{cp.id}/qr.png")
    assert png.mimetype == "image/png" and "attachment" in png.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] >= 1800  # 15 cm at 300 dpi
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [f"http://localhost/c/{cp.code}"]
    svg = client.get(f"/checkpoints/{cp.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<?xml")
    assert f"chot-{cp.code}-v1.svg" in svg.headers["Content-Disposition"]


def test_public_url_setting_goes_into_the_qr(app, client, auth, users):
    app.config["KIEMDICH_PUBLIC_URL"] = "https://kiemdich.dongnai.gov.vn"
    cp = users["checkpoint"].checkpoints[0].checkpoint
    auth.login("super1")
    image = Image.open(io.BytesIO(client.get(f"/checkpoints/{cp.id}/qr.png").data))
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [f"https://kiemdich.dongnai.gov.vn/c/{cp.code}"]


def test_operations_refuse_out_of_scope_without_http(app, users):
    with pytest.raises(ops.CheckpointError):
        ops.create_checkpoint(name="x", commune_code="26743", by=users["supervisor"])
    cp = CheckpointFactory(commune_code="26743")
    with pytest.raises(ops.CheckpointError):
        ops.update_checkpoint(cp, name="y", commune_code="25210", by=users["supervisor"])
