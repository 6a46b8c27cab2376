"""Spreadsheets the import tests write themselves (no binary fixtures in git)."""
import csv
import io
import zipfile
from datetime import datetime

from openpyxl import Workbook

HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Số CCCD/CMND", "Số điện thoại", "Nơi đi",
          "Nơi đến (xã, tỉnh)", "Phương tiện", "Biển số", "Thời gian qua chốt", "Chốt", "Hướng xử lý"]


def person(n: int, *, dest="Xã Nghĩa Trung, Đồng Nai", when="05/10/2021 08:30", name=None,
           id_number=None, phone=None, checkpoint="") -> list:
    """One row in the export layout; every n gives another person."""
    return [n, f"Nguyễn Văn An {n}" if name is None else name, 1980 + n % 30, "Nam" if n % 2 else "Nữ",
            id_number or f"0{75000000000 + n:011d}", phone or f"09{12000000 + n:08d}", "TP Hồ Chí Minh",
            dest, "Xe máy", f"93F1-{10000 + n}", when, checkpoint, "5"]


def xlsx(rows, *, title=(), merges=(), header=HEADER, sheet=None) -> bytes:
    """A workbook: title rows, then the header, then rows; merges like "A1:M1"."""
    book = Workbook()
    ws = book.active
    for line in title:
        ws.append(list(line) if isinstance(line, (list, tuple)) else [line])
    if header:
        ws.append(header)
    for row in rows:
        ws.append(row)
    for rng in merges:
        ws.merge_cells(rng)
    if sheet:
        sheet(ws)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def csv_bytes(rows, *, header=HEADER, delimiter=",", encoding="utf-8-sig", title=()) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)
    for line in title:
        writer.writerow([line])
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def ods(rows, header=HEADER) -> bytes:
    """A minimal OpenDocument spreadsheet, written by hand (no ODS writer is installed)."""
    def cell(value):
        if isinstance(value, (int, float)):
            return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>"
                   for r in [header, *rows])
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
               f"{body}</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def zip_bomb() -> bytes:
    """A .xlsx-looking archive whose sheet expands to 420 MB of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"0" * (1 << 20)
            for _ in range(420):
                f.write(block)
    return buf.getvalue()


def encrypted_xlsx(data: bytes, password: str = "matkhau") -> bytes:
    """A workbook protected by a password, as Excel writes it (msoffcrypto-tool)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


WHEN = datetime(2021, 10, 5, 8, 30)
