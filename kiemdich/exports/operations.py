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
        self._places = {}

    def place(self, commune: str | None, province: str | None = None, street: str = "") -> str:
        """"Commune, Province" (the street when neither is known); memoised: lists repeat places."""
        key = (commune, province, street)
        named = self._places.get(key)
        if named is None:
            named = self._places[key] = self._place(commune, province, street)
        return named

    def _place(self, commune, province, street) -> str:
        province = province or self.parents.get(commune or "")
        parts = [self.units.get(commune or ""), self.units.get(province or "")]
        named = ", ".join(p for p in parts if p)
        return named or street

    def handling(self, decision: str | None, code: int | None) -> str:
        text = f"{code} - {self.instructions[code]}" if code in self.instructions else ""
        if decision in DECISION:
            return DECISION[decision] + (f" ({text})" if text else "")
        return text


# Only the columns a row shows, read as plain rows: building ORM objects for 100,000 passages and
# their declarations was a third of an export's time (bench/export_100k.py).
_PERSON = (Declaration.full_name, Declaration.birth_year, Declaration.sex, Declaration.id_number,
           Declaration.phone, Declaration.origin_commune_code, Declaration.origin_province_code,
           Declaration.origin_street, Declaration.dest_commune_code, Declaration.dest_street,
           Declaration.vehicle_type, Declaration.vehicle_plate)
_PASSAGE = (Passage.client_ts, Passage.server_ts, Passage.decision, Passage.instruction_code)


def _stamp(moment: datetime | None) -> str:
    """dd/mm/yyyy hh:mm in local time (an f-string: strftime was a tenth of the rows' time)."""
    if moment is None:
        return ""
    t = local(moment)
    return f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour:02d}:{t.minute:02d}"


def _row(n, r, checkpoint_name: str, names: Names, instruction_code: int | None = None) -> list:
    moment = r.client_ts or r.server_ts
    code = r.instruction_code if instruction_code is None else instruction_code
    return [n, r.full_name, r.birth_year, SEX.get(r.sex, ""), r.id_number, r.phone,
            names.place(r.origin_commune_code, r.origin_province_code, r.origin_street),
            names.place(r.dest_commune_code, None, r.dest_street),
            VEHICLE.get(r.vehicle_type, ""), r.vehicle_plate,
            _stamp(moment), checkpoint_name,
            names.handling(r.decision, code)]


def passage_rows(checkpoint_ids, start: date, end: date):
    """Rows of the passages at these checkpoints over whole local days, oldest first."""
    lo, hi = local_range(start, end)
    names = Names()
    stmt = (select(*_PERSON, *_PASSAGE, Checkpoint.name.label("checkpoint_name"))
            .join_from(Passage, Declaration, Declaration.id == Passage.declaration_id)
            .join(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
            .where(Passage.checkpoint_id.in_(list(checkpoint_ids)), Passage.server_ts >= lo,
                   Passage.server_ts < hi, Passage.decision.is_not(None))
            .order_by(Passage.server_ts, Passage.id)
            .execution_options(yield_per=BATCH))
    for n, r in enumerate(db.session.execute(stmt), start=1):
        yield _row(n, r, r.checkpoint_name, names)


def arrival_rows(communes, statuses, start: date | None = None, end: date | None = None):
    """Rows of the arrivals routed to these communes with these statuses, oldest first."""
    names = Names()
    stmt = (select(*_PERSON, *_PASSAGE, Checkpoint.name.label("checkpoint_name"), Arrival.status,
                   Arrival.instruction_code.label("arrival_instruction"))
            .join_from(Arrival, Declaration, Declaration.id == Arrival.declaration_id)
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
    for n, r in enumerate(db.session.execute(stmt), start=1):
        # An arrival without a passage (imported, transferred) shows the instruction of its plan.
        row = _row(n, r, r.checkpoint_name or "", names, r.arrival_instruction if r.server_ts is None else None)
        yield row + [STATUS.get(r.status, r.status)]


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
        # (safe() inlined: one call per cell was measurable on 100,000 rows.)
        sheet.append([("'" + v) if v.__class__ is str and v.startswith(FORMULA_START) else v for v in row])
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
