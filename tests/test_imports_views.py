"""The import wizard over HTTP: upload, columns, dry run, commit, error report, triage, refusals."""
import io
import re

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.models import (Arrival, AuditEvent, Checkpoint, Declaration, ImportBatch, ImportJob, ImportProfile,
                             ImportRow)
from tests.conftest import csrf_token
from tests.factories_imports import xlsx
from tests.test_imports import bad_file, person


@pytest.fixture
def inline(app):
    app.config["KIEMDICH_IMPORTS_INLINE"] = True  # jobs run in the request: the test sees the outcome
    return app


@pytest.fixture
def supervisor(client, auth, users, inline):
    auth.login("super1")
    return users["supervisor"]


def upload(client, data, name="danh-sach.xlsx", **form):
    token = csrf_token(client, "/nhap/")
    return client.post("/nhap/", data={"csrf_token": token, "file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def mapping_form(client, batch, **extra):
    token = csrf_token(client, f"/nhap/{batch.id}")
    form = {"csrf_token": token}
    for i, label in enumerate(batch.mapping["labels"]):
        form[f"col-{i}"] = batch.mapping["map"].get(label, "")
    form.update(extra)
    return form


def latest_batch() -> ImportBatch:
    db.session.expire_all()
    return db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).first()


def test_wizard_from_upload_to_commit(client, supervisor):
    cp = db.session.scalar(select(Checkpoint))
    rows = [person(1), person(2, dest="Xã Đức Liễu, Huyện Bù Đăng, Tỉnh Bình Phước"), person(3, name=""),
            person(4, dest="Nơi nào đó"), person(1)]
    response = upload(client, xlsx(rows, title=["DANH SÁCH NGƯỜI QUA CHỐT"]), checkpoint=str(cp.id))
    batch = latest_batch()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/nhap/{batch.id}")
    assert (batch.status, batch.total_rows, batch.checkpoint_id) == ("uploaded", 5, cp.id)

    page = client.get(f"/nhap/{batch.id}").get_data(as_text=True)
    assert "Họ và tên" in page and 'value="full_name" selected' in page
    assert "Nguyễn Văn An 1" in page  # sample values help check the columns

    response = client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch, checkpoint=str(cp.id),
                                                                     profile_name="Danh sách PC-Covid"))
    assert response.status_code == 302 and response.location == f"/nhap/{batch.id}"
    batch = latest_batch()
    assert batch.status == "analysed"
    assert batch.counts == {"total": 5, "new": 2, "transit": 0, "duplicate": 1, "triage": 1, "invalid": 1,
                            "past": 0}
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 0
    assert db.session.scalar(select(ImportProfile.name)) == "Danh sách PC-Covid"
    page = client.get(f"/nhap/{batch.id}").get_data(as_text=True)
    assert "Nguyễn Văn An 4" in page and "Nguyễn Văn An 1" in page  # the triage and duplicate rows

    report = client.get(f"/nhap/{batch.id}/bao-cao-loi.xlsx")
    assert report.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(report.data)).get_sheet_by_index(0).to_python()
    assert sheet[2][0] == "Dòng" and sheet[2][-1] == "Lỗi"
    # the invalid row, the one waiting for a commune and the duplicate, in file order
    assert [r[0] for r in sheet[3:]] == [5, 6, 7]
    assert sheet[3][-1] and sheet[4][-1] and sheet[5][-1]

    response = client.post(f"/nhap/{batch.id}/ghi", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    assert response.status_code == 302 and response.location == f"/nhap/{batch.id}"
    batch = latest_batch()
    assert batch.status == "committed"
    assert db.session.scalar(select(func.count()).select_from(Arrival)) == 2
    assert db.session.scalar(select(func.count()).select_from(Declaration)) == 3  # 2 routed + 1 in triage
    index = client.get("/nhap/").get_data(as_text=True)
    assert "danh-sach.xlsx" in index and "super1" in index

    triage = client.get("/nhap/phan-loai").get_data(as_text=True)
    assert "Nguyễn Văn An 4" in triage and "Nơi nào đó" in triage
    row_id = db.session.scalar(select(ImportRow.id).where(ImportRow.status == "triage"))
    token = csrf_token(client, "/nhap/phan-loai")
    response = client.post(f"/nhap/phan-loai/{row_id}", data={"csrf_token": token, f"c{row_id}": "25210"})
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Arrival).where(Arrival.commune_code == "25210")) == 1


@pytest.mark.parametrize("kind", ["pdf", "png renamed .xlsx", "corrupt xlsx", "password", "zip bomb",
                                  "empty sheet", "unknown header", "formulas only"])
def test_bad_file_gets_one_message_and_changes_nothing(client, supervisor, kind):
    response = upload(client, bad_file(kind), name="danh-sach.xlsx")
    assert response.status_code == 422
    messages = re.findall(r'<p class="alert" role="alert">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert len(messages) == 1 and messages[0].strip()
    # The file is read by the queue's job: what it refused stays listed as refused, with no row.
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)
                             .where(ImportBatch.status != "refused")) == 0
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 0


def test_vietnamese_message_for_a_protected_workbook(client, supervisor):
    page = upload(client, bad_file("password")).get_data(as_text=True)
    assert "mật khẩu" in page


def test_upload_size_limit(app, client, supervisor):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    response = upload(client, b"a,b\n" * 20_000, name="lon.csv")
    assert response.status_code == 413
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_reupload_of_the_same_file_warns_before_anything_happens(client, supervisor):
    cp = db.session.scalar(select(Checkpoint))
    data = xlsx([person(1)])
    upload(client, data, checkpoint=str(cp.id))
    first = latest_batch()
    client.post(f"/nhap/{first.id}/cot", data=mapping_form(client, first, checkpoint=str(cp.id)))
    client.post(f"/nhap/{first.id}/ghi", data={"csrf_token": csrf_token(client, f"/nhap/{first.id}")})

    upload(client, data, checkpoint=str(cp.id))
    again = latest_batch()
    page = client.get(f"/nhap/{again.id}").get_data(as_text=True)
    assert 'name="again"' in page
    response = client.post(f"/nhap/{again.id}/cot", data=mapping_form(client, again, checkpoint=str(cp.id)))
    assert response.status_code == 422 and latest_batch().status == "uploaded"
    response = client.post(f"/nhap/{again.id}/cot", data=mapping_form(client, again, checkpoint=str(cp.id), again="1"))
    assert response.status_code == 302
    assert latest_batch().counts["duplicate"] == 1


def test_mapping_needs_name_and_time_columns(client, supervisor):
    cp = db.session.scalar(select(Checkpoint))
    upload(client, xlsx([person(1)]), checkpoint=str(cp.id))
    batch = latest_batch()
    form = mapping_form(client, batch, checkpoint=str(cp.id))
    form["col-1"] = ""  # Họ và tên -> not imported
    form["col-2"] = "phone"  # Năm sinh -> phone, which is also column 5
    response = client.post(f"/nhap/{batch.id}/cot", data=form)
    assert response.status_code == 422
    assert latest_batch().status == "uploaded"


def test_progress_fragment_redirects_when_the_job_is_over(client, supervisor):
    upload(client, xlsx([person(1)]))
    batch = latest_batch()
    response = client.get(f"/nhap/{batch.id}/tien-do", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].endswith(f"/nhap/{batch.id}")
    db.session.execute(ImportBatch.__table__.update().values(status="analysing", total_rows=10))
    db.session.execute(ImportJob.__table__.update().values(processed_rows=3, total_rows=10))
    db.session.commit()
    fragment = client.get(f"/nhap/{batch.id}/tien-do", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<progress class="bar" max="10" value="3">' in fragment and "<html" not in fragment


def test_cancel_deletes_the_rows(client, supervisor):
    upload(client, xlsx([person(1), person(2)]))
    batch = latest_batch()
    client.post(f"/nhap/{batch.id}/huy", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    assert latest_batch().status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 0
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "import.cancel"))


@pytest.mark.parametrize("username", ["chot1", "xa1", "admin1"])
def test_other_roles_cannot_import(client, auth, users, username):
    auth.login(username)
    assert client.get("/nhap/").status_code == 403
    assert client.get("/nhap/phan-loai").status_code == 403


def test_another_supervisors_batch_is_hidden(client, auth, users, inline):
    from tests.factories import UserFactory

    UserFactory(username="super2", role="supervisor", area_codes=["79"])
    db.session.commit()
    auth.login("super1")
    upload(client, xlsx([person(1)]))
    batch = latest_batch()
    auth.logout()
    auth.login("super2")
    assert client.get(f"/nhap/{batch.id}").status_code == 404
    assert client.get(f"/nhap/{batch.id}/bao-cao-loi.xlsx").status_code == 404
