"""Pure rules about a declaration: the validity window of its QR for passage."""
from datetime import date, datetime, time, timedelta

from ..clock import LOCAL


def valid_until(created_at: datetime, travel_date: date, hours: int) -> datetime:
    """End of the window for passage: `hours` from the declaration, or from the start of the
    travel day (local time) when the trip is declared ahead."""
    start_of_trip = datetime.combine(travel_date, time(0, 0), LOCAL)
    return max(created_at, start_of_trip) + timedelta(hours=hours)
