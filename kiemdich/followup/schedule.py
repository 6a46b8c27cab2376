"""Pure follow-up rules: day X of N, what is due today, the end of monitoring, the red flag.

No database and no clock here: callers pass `today` (a local date, Asia/Ho_Chi_Minh, from
kiemdich.clock.today()) so the same answers come out in tests pinned at 23:30 or 00:30.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

FEVER = Decimal("37.5")  # °C, at or above: red
LOW_SPO2 = 96  # %, below: red (QĐ 4038/QĐ-BYT keeps home care at SpO2 >= 96 %)
OVERDUE_AFTER = timedelta(hours=24)  # an expected arrival not confirmed after this is overdue

MONITORED = ("arrived", "monitoring")  # daily checks are due
OPEN = ("expected", "arrived", "monitoring", "ended_unchecked")  # the officer still has to act
CHECKABLE = ("expected", "arrived", "monitoring", "ended_unchecked")  # a check may be recorded


def last_day(plan_start: date | None, plan_end: date | None, self_monitoring_until: date | None) -> date | None:
    """The last day of follow-up: the end of the self-monitoring after the measure, else of the measure."""
    if plan_start is None:
        return None
    return self_monitoring_until or plan_end or plan_start


def day_of(start: date | None, last: date | None, today: date) -> tuple[int, int] | None:
    """(X, N) for "day X of N", day 1 being the arrival day; X stays within 1..N."""
    if start is None or last is None:
        return None
    days = (last - start).days + 1
    return min(max((today - start).days + 1, 1), days), days


def days_left(last: date | None, today: date) -> int | None:
    """Whole days after today until the end (0 on the last day)."""
    return None if last is None else max((last - today).days, 0)


def in_window(start: date | None, last: date | None, today: date) -> bool:
    return start is not None and last is not None and start <= today <= last


def is_due(status: str, start: date | None, last: date | None, today: date, checked_today: bool) -> bool:
    """A daily check is expected today and none is recorded yet."""
    return status in MONITORED and in_window(start, last, today) and not checked_today


def test_today(status: str, start: date | None, test_days, today: date) -> bool:
    """Today is one of the plan's test days (1 = arrival day)."""
    if status not in MONITORED or start is None:
        return False
    return (today - start).days + 1 in set(test_days or [])


def end_outcome(status: str, last: date | None, today: date, last_day_checked: bool) -> str | None:
    """The explicit end rule: on the last day a recorded check completes the monitoring; once the
    last day is over without it, the arrival is "ended without final check" until an officer
    closes or extends it with a reason. None: nothing changes."""
    if status not in MONITORED or last is None:
        return None
    if last_day_checked:
        return "completed"
    if today > last:
        return "ended_unchecked"
    return None


def parse_temperature(raw) -> Decimal | None:
    """°C with one decimal, from "37,8" or "37.8"; None when empty; ValueError when not a body temperature."""
    text = str(raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text).quantize(Decimal("0.1"))
    except InvalidOperation as err:
        raise ValueError(text) from err
    if value.is_nan() or not Decimal("34") <= value <= Decimal("43"):  # comparing NaN raises InvalidOperation
        raise ValueError(text)
    return value


def is_red(symptoms, temperature, spo2, test_result: str = "") -> bool:
    """Any symptom, a temperature >= 37.5 °C, SpO2 < 96 % or a positive test."""
    if symptoms:
        return True
    if temperature is not None and Decimal(str(temperature)) >= FEVER:
        return True
    if spo2 is not None and int(spo2) < LOW_SPO2:
        return True
    return test_result == "positive"


def overdue(status: str, expected_at: datetime | None, now: datetime) -> bool:
    """Passed a checkpoint more than 24 hours ago and still not confirmed as arrived."""
    return status == "expected" and expected_at is not None and now - expected_at > OVERDUE_AFTER


@dataclass(frozen=True)
class Progress:
    """Where an arrival stands today, for lists, the detail page and the returnee's page."""

    day: int | None
    days: int | None
    last_day: date | None
    days_left: int | None
    due: bool
    test_today: bool
    ending_today: bool
    ended_unchecked: bool  # the last day has passed without its check (stored or not yet swept)
    test_dates: tuple[date, ...]


def progress(arrival, today: date, checked_today: bool = False, last_day_checked: bool = False) -> Progress:
    """The Progress of an Arrival-like object (status, plan_start, plan_end, self_monitoring_until, test_days)."""
    last = last_day(arrival.plan_start, arrival.plan_end, arrival.self_monitoring_until)
    x_of_n = day_of(arrival.plan_start, last, today)
    start = arrival.plan_start
    monitored = arrival.status in MONITORED
    return Progress(
        day=x_of_n[0] if x_of_n else None, days=x_of_n[1] if x_of_n else None, last_day=last,
        days_left=days_left(last, today),
        due=is_due(arrival.status, start, last, today, checked_today),
        test_today=test_today(arrival.status, start, arrival.test_days, today),
        ending_today=monitored and last == today,
        ended_unchecked=arrival.status == "ended_unchecked"
        or end_outcome(arrival.status, last, today, last_day_checked) == "ended_unchecked",
        test_dates=tuple(start + timedelta(days=d - 1) for d in sorted(arrival.test_days or []) if start),
    )
