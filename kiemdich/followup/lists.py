"""The commune officer's lists: one query per list, always filtered by the officer's communes.

Every list puts the red-flagged first; search folds case and diacritics (names) or matches digits
(phones); pages are small so each HTMX fragment stays under 5 KB.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select

from ..extensions import db
from ..models import Arrival, Declaration, HealthCheck
from ..text import fold
from . import schedule

PAGE = 15
KEYS = ("symptomatic", "expected", "due", "tests", "monitoring", "ending", "unchecked")
TEST_LOOKBACK = 60  # days: no plan tests later than this after arrival


def last_day_expr():
    """SQL twin of schedule.last_day."""
    return func.coalesce(Arrival.self_monitoring_until, Arrival.plan_end, Arrival.plan_start)


def checked_on(day):
    """EXISTS a health check of the row's arrival dated `day` (a date or a SQL expression)."""
    return exists(select(HealthCheck.id).where(HealthCheck.arrival_id == Arrival.id,
                                               HealthCheck.check_date == day))


def _where(key: str, today: date):
    """The condition of list `key` (tests: only the candidates, refined in Python)."""
    last = last_day_expr()
    monitored = Arrival.status.in_(schedule.MONITORED)
    if key == "symptomatic":
        return and_(Arrival.flagged, Arrival.status.in_(schedule.OPEN))
    if key == "expected":
        return Arrival.status == "expected"
    if key == "monitoring":
        return and_(monitored, last >= today)
    if key == "due":
        return and_(monitored, Arrival.plan_start <= today, last >= today, ~checked_on(today))
    if key == "tests":
        return and_(monitored, Arrival.plan_start <= today,
                    Arrival.plan_start >= today - timedelta(days=TEST_LOOKBACK))
    if key == "ending":
        return and_(monitored, last == today)
    if key == "unchecked":
        return or_(Arrival.status == "ended_unchecked", and_(monitored, last < today, ~checked_on(last)))
    raise KeyError(key)


def _search(q: str):
    """Name words (no case, no diacritics) or phone digits."""
    q = (q or "").strip()[:60]
    digits = re.sub(r"[\s.\-()+]", "", q)
    if digits.isdigit() and len(digits) >= 3:
        if digits.startswith("84") and len(digits) > 9:
            digits = "0" + digits[2:]
        return Declaration.phone.contains(digits, autoescape=True)
    words = fold(q).split()
    if not words:
        return None
    return and_(*[Declaration.search_name.contains(w, autoescape=True) for w in words])


def _base(codes, key: str, today: date, q: str = ""):
    stmt = (select(Arrival, Declaration).join(Declaration, Arrival.declaration_id == Declaration.id)
            .where(Arrival.commune_code.in_(sorted(codes)), _where(key, today)))
    condition = _search(q)
    return stmt.where(condition) if condition is not None else stmt


def _tested_today(today: date):
    return exists(select(HealthCheck.id).where(HealthCheck.arrival_id == Arrival.id,
                                               HealthCheck.check_date == today, HealthCheck.test_result != ""))


def _test_rows(codes, today: date, q: str = "") -> list:
    """Tests due today and not yet recorded: the candidates' test_days are JSON, so refine here."""
    stmt = _base(codes, "tests", today, q).where(~_tested_today(today)).order_by(
        Arrival.flagged.desc(), Declaration.search_name, Arrival.id)
    return [(a, d) for a, d in db.session.execute(stmt).all()
            if schedule.test_today(a.status, a.plan_start, a.test_days, today)]


def counts(codes, today: date) -> dict[str, int]:
    """How many in each list."""
    if not codes:
        return dict.fromkeys(KEYS, 0)
    result = {}
    for key in KEYS:
        if key == "tests":
            result[key] = len(_test_rows(codes, today))
            continue
        stmt = select(func.count()).select_from(Arrival).where(
            Arrival.commune_code.in_(sorted(codes)), _where(key, today))
        result[key] = db.session.scalar(stmt)
    return result


def overdue_count(codes, now: datetime) -> int:
    if not codes:
        return 0
    return db.session.scalar(select(func.count()).select_from(Arrival).where(
        Arrival.commune_code.in_(sorted(codes)), Arrival.status == "expected",
        Arrival.expected_at < now - schedule.OVERDUE_AFTER))


@dataclass
class Row:
    """One line of a list: enough to recognise, call and open the person."""

    code: str
    name: str
    phone: str
    street: str
    status: str
    flagged: bool
    overdue: bool
    expected_at: datetime | None
    checked_today: bool
    progress: schedule.Progress


@dataclass
class Page:
    key: str
    rows: list[Row]
    page: int
    has_next: bool
    q: str


def page(codes, key: str, today: date, now: datetime, q: str = "", number: int = 1) -> Page:
    """One page of list `key` for the communes `codes`."""
    number = max(1, number)
    if not codes:
        return Page(key, [], 1, False, q)
    offset = (number - 1) * PAGE
    if key == "tests":
        found = _test_rows(codes, today, q)
        chunk, has_next = found[offset:offset + PAGE], len(found) > offset + PAGE
        checked = _checked_ids([a.id for a, _d in chunk], today)
    else:
        order = [Arrival.flagged.desc()]
        order += [Arrival.expected_at] if key == "expected" else []
        order += [Declaration.search_name, Arrival.id]
        stmt = _base(codes, key, today, q).order_by(*order).offset(offset).limit(PAGE + 1)
        found = db.session.execute(stmt).all()
        chunk, has_next = found[:PAGE], len(found) > PAGE
        checked = set() if key == "due" else _checked_ids([a.id for a, _d in chunk], today)
    rows = [Row(code=d.code, name=d.full_name, phone=d.phone, street=d.dest_street, status=a.status,
                flagged=a.flagged, overdue=schedule.overdue(a.status, a.expected_at, now), expected_at=a.expected_at,
                checked_today=a.id in checked,
                progress=schedule.progress(a, today, checked_today=a.id in checked))
            for a, d in chunk]
    return Page(key, rows, number, has_next, q)


def _checked_ids(ids: list[int], today: date) -> set[int]:
    if not ids:
        return set()
    return set(db.session.scalars(select(HealthCheck.arrival_id).where(
        HealthCheck.arrival_id.in_(ids), HealthCheck.check_date == today)))


def unsettled(codes, today: date):
    """Arrivals still "monitored" whose last day is over: the end rule has a decision to record."""
    last = last_day_expr()
    return select(Arrival).where(Arrival.commune_code.in_(sorted(codes)),
                                 Arrival.status.in_(schedule.MONITORED), last < today)
