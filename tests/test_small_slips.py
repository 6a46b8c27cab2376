"""Issue 11 item 13: a refused page says who may use it; the dashboard's date fields show the
period its figures are for on first load."""
from datetime import timedelta

from kiemdich import clock


def test_an_admin_refused_on_new_checkpoint_learns_a_supervisor_does_it(client, auth, users):
    auth.login("admin1")
    response = client.get("/checkpoints/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Trang này dành cho: Giám sát." in html


def test_a_supervisor_refused_on_an_admin_page_learns_an_admin_does_it(client, auth, users):
    """The message names only the roles the page is for."""
    auth.login("super1")
    html = client.get("/quan-tri/tai-khoan/").get_data(as_text=True)
    assert "Trang này dành cho: Quản trị viên." in html and "Giám sát." not in html.split("Trang này")[1][:60]


def test_dashboard_date_fields_show_the_period_on_first_load(client, auth, users):
    auth.login("super1")
    html = client.get("/tinh").get_data(as_text=True)
    end = clock.today()
    start = end - timedelta(days=13)
    assert f'id="start" name="start" type="date" value="{start.isoformat()}"' in html
    assert f'id="end" name="end" type="date" value="{end.isoformat()}"' in html
