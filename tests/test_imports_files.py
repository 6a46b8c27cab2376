"""Files as they come: declared sizes checked before reading, content against extension, the error
report accounting for every row with its cells as written."""
import io
import random
import re
import zipfile
from datetime import datetime

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.imports import operations
from kiemdich.imports.reader import FileProblem
from kiemdich.models import Checkpoint, ImportBatch
from tests.conftest import csrf_token
from tests.factories_imports import csv_bytes, xlsx
from tests.test_imports import RECENT, person
from tests.test_imports_views import latest_batch, mapping_form, upload


@pytest.fixture
def inline(app):
    app.config["KIEMDICH_IMPORTS_INLINE"] = True
    return app


@pytest.fixture
def supervisor(client, auth, users, inline):
    auth.login("super1")
    return users["supervisor"]


def alerts(response) -> list[str]:
    return [m.strip() for m in re.findall(r'<p class="alert" role="alert">(.*?)</p>',
                                         response.get_data(as_text=True), re.S)]


# ---------------------------------------------------------------- item 10: content against extension


def test_a_csv_renamed_xlsx_is_refused_saying_what_it_is(client, supervisor):
    data = csv_bytes([person(1), person(2)])
    response = upload(client, data, name="danh-sach.xlsx")
    assert response.status_code == 422
    (message,) = alerts(response)
    assert "danh-sach.xlsx" in message and "CSV" in message
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_renamed_file_is_read_by_its_content_when_asked_and_the_columns_step_says_so(client, supervisor):
    response = upload(client, csv_bytes([person(1), person(2)]), name="danh-sach.xlsx", by_content="1")
    assert response.status_code == 302
    batch = latest_batch()
    assert batch.total_rows == 2 and batch.mapping["kind"] == "csv"
    page = client.get(f"/nhap/{batch.id}").get_data(as_text=True)
    assert "Đã đọc theo nội dung là văn bản CSV (.csv), dù tên tệp ghi là bảng tính Excel (.xlsx)." in page


def test_an_xlsx_named_csv_is_refused_too():
    with pytest.raises(FileProblem) as problem:
        operations.parse_upload(xlsx([person(1)]), filename="ds.csv")
    assert problem.value.code == "mismatch" and problem.value.params["kind"] == "xlsx"


# ---------------------------------------------------------------- item 10: every row in the report


def test_the_error_report_holds_every_row_not_imported_as_is_with_cells_as_written(client, supervisor):
    cp = db.session.scalar(select(Checkpoint))
    when = datetime.strptime(RECENT, "%d/%m/%Y %H:%M")
    rows = [person(1, when=when), person(2, when=when, name=""), person(3, when=when, dest=""),
            person(4, when=when, dest="Ấp Sóc Bom Bo"), person(1, when=when)]
    upload(client, xlsx(rows), checkpoint=str(cp.id))
    batch = latest_batch()
    client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch, checkpoint=str(cp.id)))
    client.post(f"/nhap/{batch.id}/ghi", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    batch = latest_batch()
    assert batch.status == "committed" and batch.counts["triage"] == 2
    page = client.get(f"/nhap/{batch.id}").get_data(as_text=True)
    assert f"/nhap/{batch.id}/bao-cao-loi.xlsx" in page
    report = client.get(f"/nhap/{batch.id}/bao-cao-loi.xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(report.data)).get_sheet_by_index(0).to_python()
    header = sheet[2]
    found = {r[0]: r for r in sheet[3:]}
    assert sorted(found) == [3, 4, 5, 6]  # no name, no destination, unresolved, duplicate
    assert "xã" in found[4][-1] and "xã" in found[5][-1]  # "a supervisor will choose the commune"
    # The time of passage was a date cell: it is a date cell in the report, not ISO text.
    assert found[4][header.index("Thời gian qua chốt")] == when
    assert found[4][header.index("Năm sinh")] == rows[2][2]


# ---------------------------------------------------------------- item 4: declared sizes


def _with_sheet(data: bytes, transform) -> bytes:
    """The same workbook with its first sheet's XML changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = transform(body)
            dst.writestr(info.filename, body)
    return out.getvalue()


def test_a_workbook_declaring_a_huge_sheet_is_refused_before_reading():
    """1.7 KB declaring XFD1048576: the reader would try to allocate hundreds of gigabytes."""
    data = _with_sheet(xlsx([person(1)]), lambda body: re.sub(rb'<dimension ref="[^"]*"\s*/>',
                                                              b'<dimension ref="A1:XFD1048576"/>', body))
    assert len(data) < 10_000
    with pytest.raises(FileProblem) as problem:
        operations.parse_upload(data)
    assert problem.value.code == "too_many_cells"
    assert "1048576" in problem.value.message or "1.048.576" in problem.value.message


def test_a_workbook_whose_cells_lie_far_away_is_refused():
    """No dimension element, one cell at the far corner: the reader would allocate the whole range."""
    data = _with_sheet(xlsx([person(1)]), lambda body: re.sub(
        rb"</sheetData>", b'<row r="1048000"><c r="XFC1048000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
        re.sub(rb'<dimension ref="[^"]*"\s*/>', b"", body)))
    with pytest.raises(FileProblem) as problem:
        operations.parse_upload(data)
    assert problem.value.code == "too_many_cells"


def test_a_small_archive_expanding_far_beyond_a_list_is_refused():
    """Like the 714 KB file expanding to 205 MB (about 290:1): under a 1000:1 zip-bomb check, but a list
    of people compresses about 10:1."""
    rnd = random.Random(13)
    unit = b"".join(b" " * 1200 + bytes([rnd.randrange(97, 123)]) for _ in range(1000))
    padding = b"<!--" + unit * 35 + b"-->"  # 42 MB
    data = _with_sheet(xlsx([person(1)]), lambda body: body.replace(b"<sheetData>", padding + b"<sheetData>", 1))
    ratio = len(padding) / len(data)
    assert 200 < ratio < 1000
    with pytest.raises(FileProblem) as problem:
        operations.parse_upload(data)
    assert problem.value.code == "too_big"


# ---------------------------------------------------------------- item 7: checkpoint names mapped


def test_checkpoint_names_in_the_file_are_mapped_never_replaced(client, supervisor):
    from kiemdich.models import ImportProfile, Passage
    from tests.factories import CheckpointFactory

    ours = db.session.scalar(select(Checkpoint))  # "Chốt số N"
    bridge = CheckpointFactory(commune_code="25210", name="Chốt Cầu Sài Gòn")
    db.session.commit()
    rows = [person(1, checkpoint="CHOT CAU SAI GON"), person(2, checkpoint="Chốt cầu Sài Gòn (QL1)"),
            person(3, checkpoint="Trạm phía Bắc")]
    upload(client, xlsx(rows))
    batch = latest_batch()
    response = client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch, profile_name="Danh sách huyện"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/nhap/{batch.id}/chot")
    assert latest_batch().status == "uploaded"  # nothing was analysed at one checkpoint meanwhile
    page = client.get(f"/nhap/{batch.id}/chot").get_data(as_text=True)
    selects = dict(re.findall(r'<label for="cp-\d+">(.*?)</label>.*?<option value="(\d*)" selected', page, re.S))
    assert selects["CHOT CAU SAI GON"] == str(bridge.id)  # accent-insensitive suggestions
    assert selects["Chốt cầu Sài Gòn (QL1)"] == str(bridge.id)
    assert "Trạm phía Bắc" in page and "Trạm phía Bắc" not in selects  # nothing like it: the user chooses

    token = csrf_token(client, f"/nhap/{batch.id}/chot")
    names = re.findall(r'<label for="cp-(\d+)">(.*?)</label>', page)
    form = {"csrf_token": token, **{f"cp-{i}": str(bridge.id) for i, name in names if "Trạm" not in name}}
    response = client.post(f"/nhap/{batch.id}/chot", data=form)
    assert response.status_code == 422 and "Trạm phía Bắc" in response.get_data(as_text=True)
    form.update({f"cp-{i}": str(ours.id) for i, name in names if "Trạm" in name})
    client.post(f"/nhap/{batch.id}/chot", data=form)
    client.post(f"/nhap/{batch.id}/ghi", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    at = {p.declaration.full_name: p.checkpoint_id for p in db.session.scalars(select(Passage))}
    assert at == {"Nguyễn Văn An 1": bridge.id, "Nguyễn Văn An 2": bridge.id, "Nguyễn Văn An 3": ours.id}

    # The profile remembers: the next file from the same source comes with the names already mapped.
    assert db.session.scalar(select(ImportProfile.checkpoints))["tram phia bac"] == ours.id
    profile = db.session.scalar(select(ImportProfile))
    upload(client, xlsx([person(4, checkpoint="Trạm phía Bắc")]), profile=str(profile.id))
    batch = latest_batch()
    client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch))
    page = client.get(f"/nhap/{batch.id}/chot").get_data(as_text=True)
    assert f'<option value="{ours.id}" selected' in page


def test_a_person_without_birth_year_shows_no_placeholder_in_triage(client, supervisor):
    from tests.test_imports_lists import without

    cp = db.session.scalar(select(Checkpoint))
    header, rows = without(["Năm sinh"], [person(1, dest="Ấp Sóc Bom Bo")])
    upload(client, xlsx(rows, header=header), checkpoint=str(cp.id))
    batch = latest_batch()
    client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch, checkpoint=str(cp.id)))
    client.post(f"/nhap/{batch.id}/ghi", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    page = client.get("/nhap/phan-loai").get_data(as_text=True)
    assert "Nguyễn Văn An 1" in page and "None" not in page
