"""Time: stored in UTC, shown and reasoned about in Asia/Ho_Chi_Minh."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL)


def today(now: datetime | None = None) -> date:
    """Today's date where the checkpoint stands, not in UTC."""
    return local(now or utcnow()).date()
