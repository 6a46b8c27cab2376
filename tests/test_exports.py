"""Exports: the 2021 layout, scope by role, formula injection, audit, and a round trip through the importer."""
import io
from datetime import date, datetime, timezone

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from kiemdich.exports.operations import ARRIVAL_HEADER, HEADER
from kiemdich.extensions import db
from kiemdich.imports import operations as imports
from kiemdich.models import AuditEvent, Checkpoint, Declaration
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, CheckpointFactory, DeclarationFactory, PassageFactory

WHEN = datetime(2021, 10, 5, 1, 30, tzinfo=timezone.utc)  # 08:30 in Đồng Nai


def sheet(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def passages_at(checkpoint, n=3):
    made = []
    for i in range(n):
        d = DeclarationFactory(full_name=f"Nguyễn Thị Hạnh {i}", id_number=f"07519000000{i}", phone=f"091200000{i}",
                               birth_year=1990 + i, sex="nu", dest_commune_code="25417",
                               origin_province_code="79", origin_commune_code=None, checkpoint_id=checkpoint.id)
        made.append(PassageFactory(declaration=d, checkpoint=checkpoint, server_ts=WHEN, client_ts=WHEN,
                                   instruction_code=5))
    return made


def post_export(client, path, **form):
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, **form})


def test_passage_export_xlsx_layout_and_audit(client, auth, users):
    checkpoint = db.session.scalar(select(Checkpoint))
    passages_at(checkpoint)
    other = CheckpointFactory(commune_code="25210")
    passages_at(other, 1)  # not in chot1's scope
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint="0", start="2021-10-05", end="2021-10-05", fmt="xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "qua-chot_20211005-20211005.xlsx" in response.headers["Content-Disposition"]
    rows = sheet(response.data)
    assert rows[0][0] == "DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH"
    assert rows[1][0] == f"Chốt: {checkpoint.name}"
    assert rows[3][0] == "Từ ngày 05/10/2021 đến ngày 05/10/2021"
    assert rows[4][0].startswith("Xuất lúc ") and rows[4][0].endswith("bởi chot1")
    assert rows[6] == HEADER
    body = rows[7:]
    assert len(body) == 3
    assert body[0][:6] == [1, "Nguyễn Thị Hạnh 0", 1990, "Nữ", "075190000000", "0912000000"]
    assert body[0][6] == "Thành phố Hồ Chí Minh"
    assert body[0][7] == "Xã Nghĩa Trung, Đồng Nai"
    assert body[0][10:] == ["05/10/2021 08:30", checkpoint.name, "5 - Tự theo dõi sức khỏe 7 ngày"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.passages"))
    assert event.after == {"rows": 3, "format": "xlsx"} and event.username == "chot1"


def test_the_period_is_whole_local_days(client, auth, users):
    checkpoint = db.session.scalar(select(Checkpoint))
    early = passages_at(checkpoint, 1)[0]
    early.server_ts = early.client_ts = datetime(2021, 10, 4, 17, 30, tzinfo=timezone.utc)  # 00:30 on 5/10 local
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint=str(checkpoint.id), start="2021-10-05",
                           end="2021-10-05", fmt="csv")
    assert response.data.decode("utf-8-sig").count("Nguyễn Thị Hạnh") == 1
    response = post_export(client, "/xuat/qua-chot", checkpoint=str(checkpoint.id), start="2021-10-04",
                           end="2021-10-04", fmt="csv")
    assert "Nguyễn Thị Hạnh" not in response.data.decode("utf-8-sig")


def test_csv_has_a_bom_and_neutralised_formulas(client, auth, users):
    checkpoint = db.session.scalar(select(Checkpoint))
    (p,) = passages_at(checkpoint, 1)
    p.declaration.full_name = '=HYPERLINK("http://x.example","Bấm")'
    p.declaration.vehicle_plate = "+1-2"
    p.declaration.dest_street = "@SUM(A1)"
    p.declaration.dest_commune_code = None
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint=str(checkpoint.id), start="2021-10-05",
                           end="2021-10-05", fmt="csv")
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1-2" in text and "'@SUM(A1)" in text
    assert ",=HYPERLINK" not in text
    xlsx = post_export(client, "/xuat/qua-chot", checkpoint=str(checkpoint.id), start="2021-10-05",
                       end="2021-10-05", fmt="xlsx")
    import zipfile

    sheet_xml = zipfile.ZipFile(io.BytesIO(xlsx.data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # written as text, never as a formula
    assert sheet(xlsx.data)[7][1] == '\'=HYPERLINK("http://x.example","Bấm")'


def test_checkpoint_staff_cannot_export_another_checkpoint(client, auth, users):
    other = CheckpointFactory(commune_code="25210")
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint=str(other.id), start="2021-10-05",
                           end="2021-10-05", fmt="xlsx")
    assert response.status_code == 422  # not one of the choices offered: refused by the form
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.passages")) is None


def test_supervisor_exports_checkpoints_of_the_area_only(client, auth, users):
    mine = db.session.scalar(select(Checkpoint))
    far = CheckpointFactory(commune_code="27160")  # Hồ Chí Minh: outside super1's province
    passages_at(mine, 2)
    passages_at(far, 1)
    db.session.commit()
    auth.login("super1")
    page = client.get("/xuat/qua-chot").get_data(as_text=True)
    assert mine.name in page and far.name not in page
    response = post_export(client, "/xuat/qua-chot", checkpoint="0", start="2021-10-01", end="2021-10-31", fmt="csv")
    assert response.data.decode("utf-8-sig").count("Nguyễn Thị Hạnh") == 2


def test_bad_period_is_refused(client, auth, users):
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint="0", start="2021-10-05", end="2021-10-01", fmt="xlsx")
    assert response.status_code == 422
    assert "Ngày kết thúc trước ngày bắt đầu." in response.get_data(as_text=True)


def test_commune_officer_exports_arrivals_by_status(client, auth, users):
    ArrivalFactory(status="expected", declaration=DeclarationFactory(full_name="Người Chờ Đến"))
    ArrivalFactory(status="monitoring", declaration=DeclarationFactory(full_name="Người Đang Theo Dõi"))
    ArrivalFactory(status="expected", commune_code="25417", declaration=DeclarationFactory(full_name="Xã Khác"))
    db.session.commit()
    auth.login("xa1")
    response = post_export(client, "/xuat/nguoi-den", commune="25210", status="expected", fmt="xlsx")
    assert response.status_code == 200
    rows = sheet(response.data)
    assert rows[0][0] == "DANH SÁCH NGƯỜI ĐẾN ĐỊA BÀN"
    assert rows[2][0] == "Trạng thái: Chờ đến"
    assert rows[6] == ARRIVAL_HEADER
    assert [r[1] for r in rows[7:]] == ["Người Chờ Đến"]
    assert rows[7][-1] == "Chờ đến"
    response = post_export(client, "/xuat/nguoi-den", commune="25417", status="", fmt="xlsx")
    assert response.status_code == 422  # not one of the choices offered: refused by the form
    assert client.get("/xuat/qua-chot").status_code == 403


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_reimported_gives_the_same_people(client, auth, users, fmt):
    checkpoint = db.session.scalar(select(Checkpoint))
    made = passages_at(checkpoint, 4)
    made[1].declaration.dest_commune_code = "27160"  # a transit passenger
    made[2].declaration.id_number = "012345678"  # a CMND with a leading zero
    db.session.commit()
    people = {(d.full_name, d.birth_year, d.sex, d.id_number, d.phone, d.dest_commune_code)
              for d in db.session.scalars(select(Declaration))}
    auth.login("chot1")
    data = post_export(client, "/xuat/qua-chot", checkpoint=str(checkpoint.id), start="2021-10-05",
                       end="2021-10-05", fmt=fmt).data

    supervisor = users["supervisor"]
    table, header = imports.parse_upload(data)
    batch = imports.create_batch(f"xuat.{fmt}", data, user=supervisor)
    imports.store_rows(batch, table, header)
    ctx = imports.build_context(batch, supervisor)
    parsed = imports.analyse(batch, ctx)
    assert {p.status for p in parsed} == {"duplicate"}  # the same passages, recognised
    assert all(p.checkpoint_id == checkpoint.id for p in parsed)
    again = {(p.record["full_name"], p.record["birth_year"], p.record["sex"], p.record["id_number"],
              p.record["phone"], p.record["dest_commune_code"]) for p in parsed}
    assert again == people
    assert [p.moment for p in parsed] == [WHEN] * 4
    assert date(2021, 10, 5) == parsed[0].record["travel_date"]


def test_arrival_export_shows_the_passage_handling_else_the_plans(app, users):
    """The "Hướng xử lý" column: the checkpoint's decision and instruction when the arrival came
    through a passage, else the instruction of the arrival's own plan (an imported or moved one)."""
    from kiemdich.exports.operations import arrival_rows

    checkpoint = db.session.scalar(select(Checkpoint))
    passed = passages_at(checkpoint, 1)[0]
    passed.decision = "quarantine"
    ArrivalFactory(status="expected", declaration=passed.declaration, passage=passed, instruction_code=8)
    ArrivalFactory(status="expected", instruction_code=6, declaration=DeclarationFactory(full_name="Người Nhập Danh Sách"))
    db.session.commit()
    rows = {r[1]: r for r in arrival_rows(["25210", "25417"], ["expected"])}
    assert rows["Nguyễn Thị Hạnh 0"][10:13] == ["05/10/2021 08:30", checkpoint.name,
                                                "Chuyển cách ly tập trung (5 - Tự theo dõi sức khỏe 7 ngày)"]
    assert rows["Người Nhập Danh Sách"][10:12] == ["", ""]
    assert rows["Người Nhập Danh Sách"][12].startswith("6 - ")
