"""Lists as .xlsx (openpyxl write_only, row by row) or .csv (UTF-8 with BOM), in the 2021 layout."""
import csv
import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from .. import audit
from ..clock import LOCAL, local, utcnow
from ..extensions import db
from ..models import AdminUnit, Arrival, Checkpoint, Declaration, Instruction, Passage

# The header row staff knew from the 2021 lists (DESIGN.md, "Excel"); the importer reads it back.
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Số CCCD/CMND", "Số điện thoại", "Nơi đi",
          "Nơi đến (xã, tỉnh)", "Phương tiện", "Biển số", "Thời gian qua chốt", "Chốt", "Hướng xử lý"]
ARRIVAL_HEADER = HEADER + ["Trạng thái"]
SEX = {"nam": "Nam", "nu": "Nữ", "khac": "Khác"}
VEHICLE = {"xe_may": "Xe máy", "o_to": "Ô tô", "xe_khach": "Xe khách", "xe_tai": "Xe tải", "xe_dap": "Xe đạp",
           "khac": "Khác"}
DECISION = {"refuse": "Không cho qua", "quarantine": "Chuyển cách ly tập trung"}
STATUS = {"expected": "Chờ đến", "arrived": "Đã đến", "monitoring": "Đang theo dõi", "completed": "Kết thúc",
          "ended_unchecked": "Hết hạn, chưa kiểm tra cuối", "lost_contact": "Mất liên lạc",
          "transferred": "Chuyển địa bàn", "referred": "Chuyển cơ sở y tế", "left_province": "Rời tỉnh",
          "merged": "Gộp vào lượt theo dõi khác của cùng người"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000


def safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers pass."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def local_range(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC bounds of whole local days, start and end included."""
    return (datetime.combine(start, time(), LOCAL).astimezone(utcnow().tzinfo),
            datetime.combine(end + timedelta(days=1), time(), LOCAL).astimezone(utcnow().tzinfo))


class Names:
    """Unit and instruction names, loaded once per export (a few thousand short rows)."""

    def __init__(self):
        self.units = dict(db.session.execute(select(AdminUnit.code, AdminUnit.name)
                                             .where(AdminUnit.dataset == "vn2025")).all())
        self.parents = dict(db.session.execute(select(AdminUnit.code, AdminUnit.parent_code)
                                               .where(AdminUnit.dataset == "vn2025")).all())
        self.instructions = dict(db.session.execute(select(Instruction.code, Instruction.label)).all())

    def place(self, commune: str | None, province: str | None = None, street: str = "") -> str:
        province = province or self.parents.get(commune or "")
        parts = [self.units.get(commune or ""), self.units.get(province or "")]
        named = ", ".join(p for p in parts if p)
        return named or street

    def handling(self, passage: Passage | None, instruction_code: int | None = None) -> str:
        code = passage.instruction_code if passage is not None else instruction_code
        text = f"{code} - {self.instructions[code]}" if code in self.instructions else ""
        if passage is not None and passage.decision in DECISION:
            return DECISION[passage.decision] + (f" ({text})" if text else "")
        return text


def _row(n, d: Declaration, p: Passage | None, checkpoint_name: str, names: Names) -> list:
    moment = (p.client_ts or p.server_ts) if p is not None else None
    return [n, d.full_name, d.birth_year, SEX.get(d.sex, ""), d.id_number, d.phone,
            names.place(d.origin_commune_code, d.origin_province_code, d.origin_street),
            names.place(d.dest_commune_code, None, d.dest_street),
            VEHICLE.get(d.vehicle_type, ""), d.vehicle_plate,
            local(moment).strftime("%d/%m/%Y %H:%M") if moment else "", checkpoint_name,
            names.handling(p)]


def passage_rows(checkpoint_ids, start: date, end: date):
    """Rows of the passages at these checkpoints over whole local days, oldest first."""
    lo, hi = local_range(start, end)
    names = Names()
    stmt = (select(Passage, Declaration, Checkpoint.name)
            .join(Declaration, Declaration.id == Passage.declaration_id)
            .join(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
            .where(Passage.checkpoint_id.in_(list(checkpoint_ids)), Passage.server_ts >= lo,
                   Passage.server_ts < hi, Passage.decision.is_not(None))
            .order_by(Passage.server_ts, Passage.id)
            .execution_options(yield_per=BATCH))
    for n, (p, d, cp_name) in enumerate(db.session.execute(stmt), start=1):
        yield _row(n, d, p, cp_name, names)


def arrival_rows(communes, statuses, start: date | None = None, end: date | None = None):
    """Rows of the arrivals routed to these communes with these statuses, oldest first."""
    names = Names()
    stmt = (select(Arrival, Declaration, Passage, Checkpoint.name)
            .join(Declaration, Declaration.id == Arrival.declaration_id)
            .outerjoin(Passage, Passage.id == Arrival.passage_id)
            .outerjoin(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
            .where(Arrival.commune_code.in_(list(communes)))
            .order_by(Arrival.expected_at, Arrival.id)
            .execution_options(yield_per=BATCH))
    if statuses:
        stmt = stmt.where(Arrival.status.in_(list(statuses)))
    if start and end:
        lo, hi = local_range(start, end)
        stmt = stmt.where(Arrival.expected_at >= lo, Arrival.expected_at < hi)
    for n, (a, d, p, cp_name) in enumerate(db.session.execute(stmt), start=1):
        row = _row(n, d, p, cp_name or "", names)
        if p is None:
            row[12] = names.handling(None, a.instruction_code)
        yield row + [STATUS.get(a.status, a.status)]


def write_xlsx(fileobj, title: list[str], header: list[str], rows, widths: list[int] | None = None) -> int:
    """Write a workbook row by row (openpyxl write_only keeps memory flat); returns the row count."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách")
    sheet.freeze_panes = f"A{len(title) + 3}"
    widths = widths or [6, 26, 9, 9, 15, 13, 28, 30, 11, 12, 17, 22, 28, 16]
    for i, width in enumerate(widths[:len(header)]):
        sheet.column_dimensions[chr(65 + i)].width = width
    bold = Font(bold=True)
    for i, line in enumerate(title):
        cell = WriteOnlyCell(sheet, value=safe(line))
        cell.font = Font(bold=True, size=14) if i == 0 else Font(italic=True)
        sheet.append([cell])
    sheet.append([])
    head = []
    for name in header:  # headers can come from an uploaded file (the import error report)
        cell = WriteOnlyCell(sheet, value=safe(name))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    count = 0
    for row in rows:
        # Strings are written as strings: openpyxl would otherwise store "=..." as a formula.
        sheet.append([safe(v) for v in row])
        count += 1
    book.save(fileobj)
    return count


def write_csv(fileobj, title: list[str], header: list[str], rows) -> int:
    """UTF-8 with BOM so Excel shows Vietnamese; the same title block, then the header row."""
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    for line in title:
        writer.writerow([safe(line)])
    writer.writerow([])
    writer.writerow([safe(name) for name in header])
    count = 0
    for row in rows:
        writer.writerow([safe(v) for v in row])
        count += 1
    text.flush()
    text.detach()  # leave fileobj open for the response
    return count


def export(fileobj, fmt: str, title: list[str], header: list[str], rows, *, action: str, user,
           detail: str, area_code: str | None = None, widths: list[int] | None = None) -> int:
    """Write the file and the audit event with its row count (committed by the caller)."""
    if fmt == "xlsx":
        count = write_xlsx(fileobj, title, header, rows, widths)
    else:
        count = write_csv(fileobj, title, header, rows)
    audit.record(action, object_type="Export", user=user, detail=f"{detail}; {fmt}; {count} rows"[:2000],
                 after={"rows": count, "format": fmt}, area_code=area_code)
    return count
