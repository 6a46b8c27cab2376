"""Pure rules about a declaration: the validity window of its QR for passage, what a CCCD number tells."""
from datetime import date, datetime, time, timedelta

from ..clock import LOCAL


def valid_until(created_at: datetime, travel_date: date, hours: int) -> datetime:
    """End of the window for passage: `hours` from the declaration, or from the start of the
    travel day (local time) when the trip is declared ahead."""
    start_of_trip = datetime.combine(travel_date, time(0, 0), LOCAL)
    return max(created_at, start_of_trip) + timedelta(hours=hours)


def from_cccd(number: str) -> tuple[int, str] | None:
    """(year of birth, sex) encoded in a 12-digit citizen ID (CCCD) number, else None.

    Digits 4-6 are a century-and-sex digit and the last two digits of the year of birth
    (Thông tư 07/2016/TT-BCA, art. 7): 0/1 male/female born 1900-1999, 2/3 born 2000-2099, and
    so on every century. static/js/traveller.js reads it the same way to fill the form in.
    """
    if len(number) != 12 or not number.isdigit():
        return None
    digit = int(number[3])
    year = 1900 + 100 * (digit // 2) + int(number[4:6])
    return year, "nam" if digit % 2 == 0 else "nu"
