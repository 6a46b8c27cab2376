"""Cell hygiene: what people's spreadsheets do to numbers, dates and text, undone."""
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache, wraps

from ..text import fold, nfc

EXCEL_EPOCH = datetime(1899, 12, 30)
FORMULA_START = ("=", "+", "-", "@")


def per_value(maxsize: int):
    """Memoise a pure function of one cell per distinct value and type: a list repeats its dates,
    places, vehicles and instructions thousands of times, and each is read once. Results are
    immutable (str, int, tuple, datetime), so sharing them changes nothing."""
    def wrap(fn):
        cached = lru_cache(maxsize=maxsize, typed=True)(fn)

        @wraps(fn)
        def call(cell):
            try:
                return cached(cell)
            except TypeError:  # an unhashable cell: read it as it is
                return fn(cell)
        call.cache_clear = cached.cache_clear
        return call
    return wrap


@per_value(16384)
def text(cell) -> str:
    """A cell as clean text: NFC, single spaces, our own formula guard (a leading ') removed."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, datetime):
        return cell.strftime("%d/%m/%Y %H:%M")
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    value = " ".join(nfc(str(cell)).split())
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value


_SCI = re.compile(r"^\d+(?:[.,]\d+)?[eE]\+?\d+$")


def digits(cell) -> tuple[str, str | None]:
    """(digits, problem) for an ID or phone number stored as text, integer, float or 1.2E+11."""
    if cell in (None, ""):
        return "", None
    if isinstance(cell, bool):
        return "", "not_a_number"
    if isinstance(cell, (int, float)):
        if isinstance(cell, float) and not cell.is_integer():
            return "", "not_a_number"
        return str(int(cell)), None
    raw = text(cell).replace(" ", "")
    if _SCI.match(raw):
        try:
            number = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            return "", "not_a_number"
        mantissa = raw.lower().split("e")[0].replace(",", ".")
        significant = len(mantissa.replace(".", "").lstrip("0"))
        exponent = int(number.adjusted())
        if significant < exponent + 1:  # Excel showed "1.23457E+11": the last digits are gone
            return "", "rounded"
        return str(int(number)), None
    raw = re.sub(r"[.,]0+$", "", raw)  # "912345678.0" written out by a script
    raw = re.sub(r"[.\-]", "", raw)  # "0912.345.678", "0912-345-678"
    return (raw, None) if raw.isdigit() else ("", "not_a_number")


def id_number(cell) -> tuple[str, str, str | None]:
    """(number, id_type, problem). Leading zeros a spreadsheet dropped are put back."""
    raw = text(cell)
    if "*" in raw and re.fullmatch(r"[\d*Xx ]{6,}", raw):  # "******123456": masked by the national app
        return "", "", "masked"
    if raw and re.fullmatch(r"[A-Za-z]\d{7,8}", raw.replace(" ", "")):
        return raw.replace(" ", "").upper(), "passport", None
    number, problem = digits(cell)
    if problem or not number:
        return "", "", problem
    if len(number) == 11:  # a 12-digit CCCD starting with 0, read as a number
        number = "0" + number
    elif len(number) == 8:  # a 9-digit CMND starting with 0
        number = "0" + number
    if len(number) == 12:
        return number, "cccd", None
    if len(number) == 9:
        return number, "cmnd", None
    return "", "", "bad_length"


def phone_digits(cell) -> str:
    """A phone cell as text digits for normalise_phone ('912345678.0' -> '912345678')."""
    number, problem = digits(cell)
    return text(cell) if problem else number


_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%d", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%H:%M %d/%m/%Y", "%H:%M:%S %d/%m/%Y",
                 "%d/%m/%y %H:%M", "%d/%m/%y")


_DMY_HM = re.compile(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d)(?::(\d\d))?")


@per_value(8192)
def moment(cell) -> datetime | None:
    """A naive local datetime from a datetime, an Excel serial number or text (dd/mm/yyyy first)."""
    if cell in (None, ""):
        return None
    if isinstance(cell, datetime):
        return cell.replace(tzinfo=None)
    if isinstance(cell, date):
        return datetime.combine(cell, time())
    if isinstance(cell, time):
        return None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        if 20000 < cell < 80000:  # Excel serial days: 1954 .. 2119
            # Excel keeps times as fractions of a day; round away the float error to the second.
            return EXCEL_EPOCH + timedelta(seconds=round(float(cell) * 86400))
        return None
    raw = text(cell)
    if fast := _DMY_HM.fullmatch(raw):  # "dd/mm/yyyy hh:mm[:ss]", what lists nearly always carry
        try:
            return datetime(*(int(part) for part in reversed(fast.group(1, 2, 3))),
                            *(int(part or 0) for part in fast.group(4, 5, 6)))
        except ValueError:  # 31/02: the formats below say what they say
            pass
    if re.fullmatch(r"\d{5}(\.\d+)?", raw):
        return moment(float(raw))
    raw = re.sub(r"\s*(SA|AM)$", "", raw, flags=re.I)
    pm = bool(re.search(r"\s*(CH|PM)$", raw, flags=re.I))
    raw = re.sub(r"\s*(CH|PM)$", "", raw, flags=re.I)
    for fmt in _DATE_FORMATS:
        try:
            value = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        if pm and value.hour < 12:
            value += timedelta(hours=12)
        return value
    return None


@per_value(1024)
def birth(cell) -> tuple[int | None, date | None]:
    """(birth year, birth date if given) from a year, a date, an Excel serial or text."""
    if cell in (None, ""):
        return None, None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool) and 1900 <= cell <= 2100:
        return int(cell), None
    raw = text(cell)
    if re.fullmatch(r"(19|20)\d\d", raw):
        return int(raw), None
    value = moment(cell)
    if value and 1900 <= value.year <= 2100:
        return value.year, value.date()
    return None, None


SEXES = {"nam": "nam", "n": "nam", "male": "nam", "m": "nam", "1": "nam",
         "nu": "nu", "female": "nu", "f": "nu", "0": "nu", "2": "nu",
         "khac": "khac", "other": "khac"}


@per_value(256)
def sex(cell) -> str | None:
    return SEXES.get(fold(text(cell)))


VEHICLES = {
    "xe may": "xe_may", "xe mo to": "xe_may", "mo to": "xe_may", "xm": "xe_may", "xe_may": "xe_may",
    "o to": "o_to", "oto": "o_to", "xe o to": "o_to", "xe oto": "o_to", "xe con": "o_to", "o_to": "o_to",
    "xe hoi": "o_to", "ca nhan": "o_to",
    "xe khach": "xe_khach", "xe_khach": "xe_khach", "xe buyt": "xe_khach",
    "xe tai": "xe_tai", "xe_tai": "xe_tai", "xe dau keo": "xe_tai", "xe container": "xe_tai",
    "xe dap": "xe_dap", "xe_dap": "xe_dap",
    "khac": "khac", "di bo": "khac",
}


@per_value(256)
def vehicle(cell) -> str:
    return VEHICLES.get(fold(text(cell)), "khac" if text(cell) else "khac")


@per_value(256)
def instruction(cell) -> tuple[int | None, str | None]:
    """(instruction code 1-8, decision) from "5", "5 - Tự theo dõi..." or "Không cho qua"."""
    raw = fold(text(cell))
    if not raw:
        return None, None
    if raw.startswith(("khong cho qua", "tu choi", "quay dau")):
        return None, "refuse"
    if "cach ly tap trung" in raw and not raw[:1].isdigit():
        return None, "quarantine"
    match = re.match(r"^(?:ma\s*)?([1-8])\b", raw)
    if match:
        return int(match.group(1)), None
    return None, None


def is_blank_or_total(cells: list) -> bool:
    """A blank row, or a 'Tổng cộng: 120' line at the bottom of a list."""
    first = next((value for value in map(text, cells) if value), None)  # only up to the first filled cell
    if first is None:
        return True
    first = fold(first)
    return first.startswith(("tong cong", "tong so", "tong:", "cong:", "total")) or first == "tong"
