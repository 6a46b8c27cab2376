"""The uploaded file is read in a child process with a memory limit (RLIMIT_AS): a crafted file
that asks for hundreds of gigabytes kills only that child, never the web worker or the consumer."""
import io
import re
import zipfile

from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.imports import operations, sandbox
from kiemdich.imports.reader import FileProblem
from kiemdich.models import ImportBatch, ImportRow
from tests.factories_imports import person, xlsx
from tests.test_imports_views import upload


def huge_dimension() -> bytes:
    """A 5 KB .xlsx with a cell at XFD1048576: the reader would allocate the whole 2^34-cell range."""
    src = zipfile.ZipFile(io.BytesIO(xlsx([person(1)])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', data)
                data = data.replace(b"</sheetData>",
                                    b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>')
            z.writestr(info, data)
    return out.getvalue()


def test_a_crafted_dimension_is_refused_before_anything_is_allocated(app):
    try:
        sandbox.parse(huge_dimension(), memory_mb=512)
    except FileProblem as problem:
        assert problem.code == "too_many_cells"
        assert "1.048.576" in problem.message  # the rows the sheet claims, in the message
    else:
        raise AssertionError("a file asking for 2^34 cells was read")


def test_a_file_needing_more_memory_than_allowed_kills_only_the_child(app):
    data = xlsx([person(i) for i in range(1, 2001)])
    try:
        sandbox.parse(data, memory_mb=1)  # far below what reading any workbook takes
    except FileProblem as problem:
        assert problem.code == "too_big"
    else:
        raise AssertionError("the child read the file past its memory limit")
    table, _header = sandbox.parse(data, memory_mb=1024)  # this process is alive and reads it
    assert sum(1 for _ in table.rows_from(0)) == 2001


def test_the_child_reads_an_ordinary_file_as_the_reader_does(app):
    data = xlsx([person(i) for i in range(1, 4)], title=["DANH SÁCH"])
    table, header = sandbox.parse(data, memory_mb=1024)
    direct_table, direct_header = operations.parse_upload(data)
    assert (table.rows, header.labels, header.mapping) == (direct_table.rows, direct_header.labels,
                                                          direct_header.mapping)


def test_uploading_the_crafted_file_is_refused_with_a_message(app, client, auth, users):
    app.config["KIEMDICH_IMPORT_MEMORY_MB"] = 512
    auth.login("super1")
    response = upload(client, huge_dimension())  # immediate mode: the job ran in this request
    assert response.status_code == 422
    assert "tệp đã bị từ chối" in response.get_data(as_text=True)
    batch = db.session.scalar(select(ImportBatch))
    assert batch.status == "refused" and batch.error.startswith("too_many_cells")
    assert db.session.scalar(select(ImportRow)) is None
