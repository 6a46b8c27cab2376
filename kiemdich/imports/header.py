"""Finding the header row below any title rows, and mapping its columns to fields by alias."""
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..text import fold
from . import values
from .reader import FileProblem, Table, has_formulas, read_table

# The fields a row can fill, in the order the mapping screen lists them.
FIELDS = {
    "full_name": _l("Full name"),
    "birth": _l("Birth year or date"),
    "sex": _l("Sex"),
    "id_number": _l("ID number (CCCD/CMND/passport)"),
    "phone": _l("Phone"),
    "nationality": _l("Nationality"),
    "origin": _l("Origin (free text)"),
    "origin_province": _l("Origin: province"),
    "dest": _l("Destination (free text)"),
    "dest_province": _l("Destination: province"),
    "dest_district": _l("Destination: district (before 2025)"),
    "dest_commune": _l("Destination: commune / ward"),
    "dest_street": _l("Destination: house number, street, hamlet"),
    "vehicle_type": _l("Vehicle"),
    "vehicle_plate": _l("Plate number"),
    "passed_at": _l("Time of passage"),
    "checkpoint": _l("Checkpoint"),
    "instruction": _l("Instruction"),
    "note": _l("Note"),
}
IGNORE = ""  # a column mapped to nothing

# Header names met in the wild, written naturally; they are compared folded (no case, no
# diacritics, punctuation as spaces), so "SĐT", "Sđt" and "SDT" are one alias.
ALIASES = {
    "full_name": ["Họ và tên", "Họ tên", "Họ tên người khai", "Tên", "Họ và tên người đến", "Hoten",
                  "Tên người khai báo", "Full name", "Name"],
    "birth": ["Năm sinh", "NS", "Ngày sinh", "Ngày tháng năm sinh", "Ngày/tháng/năm sinh", "Sinh năm",
              "Năm sinh/Ngày sinh", "Year of birth", "Date of birth"],
    "sex": ["Giới tính", "GT", "Giới", "Phái", "Nam/Nữ", "Sex", "Gender"],
    "id_number": ["Số CMND/CCCD", "Số CCCD/CMND", "CMND/CCCD", "CCCD/CMND", "CCCD", "CMND", "Số CCCD",
                  "Số CMND", "Số giấy tờ", "Số định danh", "CMND/CCCD/Hộ chiếu", "Số CMND/CCCD/HC",
                  "Số hộ chiếu/CMND/CCCD", "CCCD/CMND/HC", "Giấy tờ tùy thân", "Số giấy tờ tùy thân",
                  "Số CMND/CCCD/Hộ chiếu", "ID number", "Passport"],
    "phone": ["Số điện thoại", "SĐT", "Điện thoại", "ĐT", "Số ĐT", "Di động", "SĐT liên hệ",
              "Điện thoại liên hệ", "Phone"],
    "nationality": ["Quốc tịch", "Nationality"],
    "origin": ["Nơi đi", "Đi từ", "Nơi khởi hành", "Đến từ", "Nơi xuất phát", "Điểm đi", "Địa chỉ nơi đi",
               "Nơi đi (tỉnh)", "Origin"],
    "origin_province": ["Tỉnh đi", "Nơi đi tỉnh", "Tỉnh/TP đi", "Tỉnh/Thành phố đi", "Nơi đi Tỉnh/TP",
                        "Nơi đi Tỉnh/Thành phố", "Tỉnh bắt đầu"],
    "dest": ["Nơi đến", "Địa chỉ nơi đến", "Điểm đến", "Địa chỉ đến", "Nơi đến xã tỉnh",
             "Địa chỉ về", "Về địa chỉ", "Nơi về", "Destination"],
    "dest_province": ["Tỉnh đến", "Nơi đến tỉnh", "Tỉnh/TP đến", "Tỉnh/Thành phố đến", "Nơi đến Tỉnh/TP",
                      "Nơi đến Tỉnh/Thành phố", "Tỉnh kết thúc", "Tỉnh/TP nơi đến"],
    "dest_district": ["Huyện đến", "Nơi đến huyện", "Quận/Huyện đến", "Nơi đến Quận/Huyện",
                      "Huyện/Thị xã/TP đến", "Huyện kết thúc", "Quận/huyện nơi đến"],
    "dest_commune": ["Xã đến", "Xã/phường đến", "Phường/xã đến", "Nơi đến xã", "Nơi đến Xã/Phường",
                     "Nơi đến Phường/Xã", "Xã/Phường/Thị trấn đến", "Xã kết thúc", "Xã/phường nơi đến"],
    "dest_street": ["Số nhà", "Địa chỉ chi tiết", "Số nhà, thôn/ấp", "Thôn/ấp/tổ", "Nơi đến số nhà",
                    "Nơi đến Số nhà, thôn/ấp", "Số nhà, đường, thôn/ấp/tổ", "Thôn/ấp", "Địa chỉ cụ thể"],
    "vehicle_type": ["Phương tiện", "Loại phương tiện", "PT", "Phương tiện đi lại", "Loại xe", "Vehicle"],
    "vehicle_plate": ["Biển số", "Biển kiểm soát", "BKS", "Số hiệu phương tiện", "Biển số xe",
                      "Số phương tiện", "Plate"],
    "passed_at": ["Thời gian qua chốt", "Thời gian", "Giờ qua chốt", "Ngày qua chốt", "Thời điểm qua chốt",
                  "Thời gian quét", "Thời gian vào", "Ngày giờ", "Thời gian check-in", "Ngày giờ qua chốt",
                  "Thời gian khai báo", "Ngày đến", "Time"],
    "checkpoint": ["Chốt", "Tên chốt", "Chốt kiểm dịch", "Điểm kiểm dịch", "Chốt kiểm soát",
                   "Điểm kiểm tra", "Checkpoint"],
    "instruction": ["Hướng xử lý", "Xử lý", "Chỉ định", "Hướng dẫn", "Instruction"],
    "note": ["Ghi chú", "Note"],
    IGNORE: ["STT", "TT", "Số TT", "Số thứ tự"],
}

_PUNCT = re.compile(r"[/\\,.;:()\[\]*#_\-–—'\"?]+")
_PAREN = re.compile(r"\(.*?\)")


def norm(label) -> str:
    """A header name reduced for comparison: 'Số CMND/CCCD (*)' -> 'so cmnd cccd'."""
    return " ".join(_PUNCT.sub(" ", fold(str(label or ""))).split())


ALIAS_INDEX = {norm(alias): fld for fld, aliases in ALIASES.items() for alias in aliases}


def field_for(label) -> str | None:
    """The field a header name stands for, or None when it is not known."""
    key = norm(label)
    if not key:
        return None
    if key in ALIAS_INDEX:
        return ALIAS_INDEX[key]
    bare = norm(_PAREN.sub(" ", fold(str(label))))  # "Nơi đến (xã, tỉnh)" -> "noi den"
    return ALIAS_INDEX.get(bare)


@dataclass
class Header:
    """Where the header is, its column names (made unique), and the automatic mapping."""

    index: int  # index in Table.rows of the last header row; data starts below it
    labels: list[str]
    mapping: dict[str, str]  # label -> field ("" = ignored)

    def columns(self, mapping: dict[str, str] | None = None) -> dict[str, int]:
        """Field -> column index for a mapping (the automatic one by default)."""
        mapping = self.mapping if mapping is None else mapping
        out = {}
        for i, label in enumerate(self.labels):
            fld = mapping.get(label)
            if fld and fld not in out:
                out[fld] = i
        return out



def _text(cell) -> str:
    return " ".join(str(cell).split()) if cell not in (None, "") else ""


def _score(labels) -> set[str]:
    return {f for f in (field_for(label) for label in labels) if f}


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, label in enumerate(labels):
        label = label or f"Cột {i + 1}"
        if label in seen:
            seen[label] += 1
            label = f"{label} ({seen[label]})"
        else:
            seen[label] = 1
        out.append(label)
    return out


def _two_row(top: list[str], below: list[str]) -> list[str]:
    """Labels of a two-row header ('Nơi đến' merged over 'Tỉnh | Huyện | Xã')."""
    out, parent = [], ""
    for i in range(max(len(top), len(below))):
        t = top[i] if i < len(top) else ""
        b = below[i] if i < len(below) else ""
        if t:
            parent = t  # a merged cell keeps its text in its first column only
        if b:
            out.append(f"{parent} {b}" if parent and parent != b else b)
        else:
            out.append(t)
    return out


def find_header(table: Table, scan: int = 30) -> Header:
    """The header row: the first of the top rows that names the most known fields."""
    best_index, best = -1, set()
    for i, row in enumerate(table.rows[:scan]):
        found = _score(_text(c) for c in row)
        if len(found - {IGNORE}) > len(best - {IGNORE}):
            best_index, best = i, found
    if best_index < 0 or len(best - {IGNORE}) < 2:
        raise FileProblem("no_columns")
    top = [_text(c) for c in table.rows[best_index]]
    labels, index = top, best_index
    if best_index + 1 < len(table.rows):
        below = [_text(c) for c in table.rows[best_index + 1]]
        combined = _two_row(top, below)
        if not _is_data_row(below) and len(_score(combined) - {IGNORE}) > len(best - {IGNORE}):
            labels, index = combined, best_index + 1
    labels = _unique(labels)
    mapping = {}
    used = set()
    for label in labels:
        fld = field_for(label)
        if fld and fld not in used:
            mapping[label] = fld
            used.add(fld)
        else:
            mapping[label] = IGNORE
    return Header(index=index, labels=labels, mapping=mapping)


_DATA_LIKE = re.compile(r"^[\d\s.,:/+\-]+$")


def _looks_like_data(text: str) -> bool:
    return bool(_DATA_LIKE.match(text))


def _is_data_row(cells: list[str]) -> bool:
    """A row of values (numbers, dates) rather than a second header line."""
    filled = [c for c in cells if c]
    return bool(filled) and sum(_looks_like_data(c) for c in filled) * 2 >= len(filled)


def parse_upload(data: bytes, *, max_unzipped: int | None = None, filename: str | None = None,
                 by_content: bool = False) -> tuple[Table, Header]:
    """Read the file and find its header: FileProblem (one clear message) if it cannot be imported.
    Here, not in operations, so that the reading child (sandbox) starts without Flask-SQLAlchemy and
    the models: 0.8 s less before each upload is read."""
    table = read_table(data, filename=filename, by_content=by_content,
                       **({"max_unzipped": max_unzipped} if max_unzipped else {}))
    header = find_header(table)
    if table.more is None and all(values.is_blank_or_total(r) for r in table.rows[header.index + 1:]):
        raise FileProblem("formulas_only" if table.kind == "xlsx" and has_formulas(data) else "empty")
    return table, header
