"""The clear-text QR codes people carry besides ours: the chip ID card's (CCCD) and PC-Covid's.

One parser for the server; static/js/scan.js has its twin (kdIdCard.parse) for the offline path,
and tests/test_idcard.py runs both on the same generated strings.

CCCD (chip card, 2021-): `ID number|old CMND number|full name|ddmmyyyy birth|sex|address|ddmmyyyy issued`,
  the old number empty or, on some cards, left out with its separator (6 fields).
PC-Covid personal QR (Quyết định 1405/QĐ-BTTTT, 11/09/2021, v1.1): `SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`,
  the name in capitals without diacritics, the birth date yyyy-mm-dd, the first 6 characters of the
  number and the day and month of birth may be masked with `*` (the app's default display),
  LoaiDinhDanh 0 (self) or 1 (declared by someone else). EXT (sex, health insurance, phone,
  signature) has no layout we could confirm, so it is not read.
Anything else, or a field that breaks these rules, is not a card: None.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from ..text import fold

_DIGITS12 = re.compile(r"\d{12}")
_OLD = re.compile(r"(\d{9}|\d{12})?")
_DMY = re.compile(r"(\d{2})(\d{2})(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{2}|\*\*)-(\d{2}|\*\*)")
_PC_ID = re.compile(r"(\d{9}|\d{12}|[A-Z]\d{7})")
_PC_ID_MASKED = re.compile(r"\*{6}(\d{3}|\d{6}|\d{2})")
SEXES = {"nam": "nam", "nu": "nu"}
MAX_LENGTH = 400  # a card's QR holds well under 300 characters


@dataclass(frozen=True)
class IdCard:
    """What a card says; the name and address in NFC, as printed."""

    kind: str  # "cccd" or "pccovid"
    id_number: str  # "" when the QR masks it
    full_name: str
    birth_year: int
    birth_date: date | None = None  # None when masked
    sex: str = ""  # "nam", "nu" or "" (unknown)
    address: str = ""
    old_id: str = ""  # the CMND number printed on the CCCD's QR, if any
    id_type: str = "cccd"  # the declaration's id_type for this number


def _date(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _name(raw: str) -> str | None:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name or len(name) > 120 or not all(c.isalpha() or c in " -.'" for c in name):
        return None
    return name


def _cccd(parts: list[str], today: date) -> IdCard | None:
    if len(parts) == 6:
        parts = parts[:1] + [""] + parts[1:]
    number, old, raw_name, born, sex, address, issued = parts
    name = _name(raw_name)
    birth = _DMY.fullmatch(born)
    issue = _DMY.fullmatch(issued)
    if not (_DIGITS12.fullmatch(number) and _OLD.fullmatch(old) and name and birth and issue):
        return None
    birth_date, issue_date = _date(*birth.groups()), _date(*issue.groups())
    address = " ".join(unicodedata.normalize("NFC", address).split())
    if (birth_date is None or issue_date is None or not 1900 <= birth_date.year
            or birth_date > today or issue_date > today or issue_date < birth_date or not address):
        return None
    sex = SEXES.get(fold(sex))
    if sex is None:
        return None
    return IdCard("cccd", number, name, birth_date.year, birth_date, sex, address[:200], old)


def _pccovid(parts: list[str], today: date) -> IdCard | None:
    number, raw_name, born, who, qid, _ext = parts
    name = _name(raw_name)
    birth = _YMD.fullmatch(born)
    if not (name and birth and who in ("0", "1") and qid.strip()):
        return None
    if _PC_ID.fullmatch(number):
        id_type = "cccd" if len(number) == 12 else "cmnd" if len(number) == 9 else "passport"
    elif _PC_ID_MASKED.fullmatch(number):
        number, id_type = "", "cccd"
    else:
        return None
    year, month, day = birth.groups()
    birth_date = None if "*" in month + day else _date(day, month, year)
    if ("*" not in month + day and birth_date is None) or not 1900 <= int(year) <= today.year:
        return None
    if birth_date is not None and birth_date > today:
        return None
    return IdCard("pccovid", number, name, int(year), birth_date, id_type=id_type)


def parse(text: str | None, today: date) -> IdCard | None:
    """The card a scanned text is, or None."""
    text = (text or "").strip()
    if not text or len(text) > MAX_LENGTH or "|" not in text:
        return None
    parts = [p.strip() for p in text.split("|")]
    if len(parts) in (6, 7):
        card = _cccd(parts, today)
        if card is not None:
            return card
    if len(parts) == 6:
        return _pccovid(parts, today)
    return None
