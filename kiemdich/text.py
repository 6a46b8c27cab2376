"""Text rules: names as typed, compared without case and diacritics; phones normalised."""
import re
import unicodedata


def nfc(text: str) -> str:
    """The form names are stored in."""
    return unicodedata.normalize("NFC", (text or "").strip())


# The combining diacritical marks (U+0300..U+036F, all of category Mn): every Vietnamese tone and
# vowel mark once decomposed. Removed in one translate; any other mark falls to the general path.
_MARKS = {cp: None for cp in range(0x300, 0x370) if unicodedata.category(chr(cp)) == "Mn"}
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case ASCII for comparing and searching: "Đức Liễu" -> "duc lieu"."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    if not text.isascii():
        text = unicodedata.normalize("NFD", text).translate(_MARKS)
        if not text.isascii():
            text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return _SPACES.sub(" ", text).strip().lower()


_PHONE = re.compile(r"^0[35789]\d{8}$")


def normalise_phone(raw: str) -> str | None:
    """A Vietnamese mobile number as 0xxxxxxxxx, or None if it is not one (+84/84/0 accepted)."""
    digits = re.sub(r"[\s.\-()]", "", raw or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[0] in "35789":  # a spreadsheet dropped the leading zero
        digits = "0" + digits
    return digits if _PHONE.match(digits) else None


def mask_id(number: str) -> str:
    """An ID number as shown by default: only the last four digits."""
    number = number or ""
    return "•" * max(len(number) - 4, 4) + number[-4:]


def form_int(raw: str | None) -> int | None:
    """An id or small number sent by a form: ASCII digits only, at most 9 of them (it fits any integer
    column); None otherwise. str.isdigit() alone lets "²" (ValueError in int()) and 5,000 digits through."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
