"""The admin's account form (issue 11 item 8): several communes and checkpoints, kept across
validation errors, and each scope message next to its picker."""
import re

from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.models import User
from tests.conftest import csrf_token
from tests.factories import CheckpointFactory

NEW = "/quan-tri/tai-khoan/moi"


def post(client, **data):
    return client.post(NEW, data={"csrf_token": csrf_token(client, NEW), "full_name": "Phạm Thị Hoa",
                                  "password": "mat khau dai 123", **data})


def ticked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input checked id="[^"]*" name="{name}" type="checkbox" value="([^"]+)"', html) + \
        re.findall(rf'<input type="checkbox" name="{name}" value="([^"]+)" checked>', html)


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


def test_a_commune_picked_after_another_keeps_both(client, auth, users):
    """Picking Nghĩa Trung after Đồng Xoài: the htmx answer lists both as ticked boxes and empties
    the list's choice; the form then saves both."""
    auth.login("admin1")
    first = client.get(NEW, query_string={"area_pick": "25210", "area_pick_province": "75"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert ticked(first, "area") == ["25210"]
    second = client.get(NEW, query_string={"area": "25210", "area_pick": "25417", "area_pick_province": "75",
                                           "area_pick_q": "nghia"},
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert ticked(second, "area") == ["25210", "25417"]
    oob = section(second, '<select id="area_pick" hx-swap-oob="innerHTML">', "</select>")
    assert "Xã Nghĩa Trung" in oob and '<option value="" selected>' in oob and '25417" selected' not in oob
    assert post(client, username="yte.hai", role="commune", area=["25210", "25417"]).status_code == 302
    assert db.session.scalar(select(User).where(User.username == "yte.hai")).area_codes == ["25210", "25417"]


def test_without_scripts_the_commune_picked_in_the_list_counts_too(client, auth, users):
    auth.login("admin1")
    assert post(client, username="yte.ba", role="commune", area="25210", area_pick="25417").status_code == 302
    assert sorted(db.session.scalar(select(User).where(User.username == "yte.ba")).area_codes) == ["25210", "25417"]


def test_two_checkpoints_are_check_boxes_and_both_are_saved(client, auth, users):
    a = CheckpointFactory(commune_code="25210", name="Chốt A")
    b = CheckpointFactory(commune_code="25417", name="Chốt B")
    db.session.commit()
    auth.login("admin1")
    html = client.get(NEW).get_data(as_text=True)
    assert f'name="checkpoints" type="checkbox" value="{a.id}"' in html and "<select multiple" not in html
    assert post(client, username="chot.hai", role="checkpoint", checkpoints=[a.id, b.id]).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "chot.hai"))
    assert sorted(user.checkpoint_ids) == sorted([a.id, b.id])


def test_choices_survive_a_validation_error(client, auth, users):
    a = CheckpointFactory(commune_code="25210", name="Chốt A")
    db.session.commit()
    auth.login("admin1")
    before = db.session.scalar(select(func.count()).select_from(User))
    response = post(client, username="x", role="commune", password="short", area=["25210", "25417"],
                    area_pick_province="75", checkpoints=[a.id])
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Ít nhất 10 ký tự." in html
    assert ticked(html, "area") == ["25210", "25417"] and ticked(html, "checkpoints") == [str(a.id)]
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_the_missing_area_message_is_next_to_the_picker(client, auth, users):
    auth.login("admin1")
    response = post(client, username="yte.bon", role="commune")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    picker = section(html, 'id="area_pick-picker"', "</fieldset>")
    assert "Chọn ít nhất một địa bàn" in picker
    assert "Chọn ít nhất một địa bàn" not in section(html, 'for="username"', "</div>")
    response = post(client, username="chot.bon", role="checkpoint")
    checkpoints = section(response.get_data(as_text=True), "<legend>Chốt", "</fieldset>")
    assert response.status_code == 422 and "Chọn ít nhất một chốt" in checkpoints


def test_an_unknown_commune_code_is_refused_next_to_the_picker(client, auth, users):
    auth.login("admin1")
    response = post(client, username="yte.nam", role="commune", area=["25210", "99999"])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Hãy chọn xã, phường hoặc tỉnh có trong danh sách." in section(html, 'id="area_pick-picker"', "</fieldset>")
    assert ticked(html, "area") == ["25210"]
    assert db.session.scalar(select(User).where(User.username == "yte.nam")) is None
