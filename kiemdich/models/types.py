"""Column types shared by the models."""
from datetime import timezone

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator

from ..clock import utcnow  # noqa: F401  (re-exported for column defaults)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every engine (SQLite forgets the zone, so we store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use kiemdich.clock.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


AreaCode = String(16)  # official codes as strings: "75", "25417"; never integers
