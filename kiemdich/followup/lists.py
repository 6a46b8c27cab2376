"""The commune officer's lists: one query per list, always filtered by the officer's communes.

Every list puts the red-flagged first; search folds case and diacritics (names) or matches digits
(phones); pages are small so each HTMX fragment stays under 5 KB.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, bindparam, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Arrival, Declaration, HealthCheck
from ..text import fold
from . import schedule

PAGE = 15
KEYS = ("symptomatic", "expected", "due", "tests", "monitoring", "ending", "unchecked")
TEST_LOOKBACK = 60  # days: no plan tests later than this after arrival

# The lists' conditions take their day and communes as parameters, so each condition and the counts
# statement are built once per process: building them on every request cost more Python time than
# the database took to answer (the home page builds eight conditions).
TODAY = bindparam("today", type_=Date)
LOOKBACK_FROM = bindparam("lookback_from", type_=Date)
CODES = bindparam("codes", expanding=True)
OVERDUE_BEFORE = bindparam("overdue_before", type_=Arrival.expected_at.type)


def params(codes, today: date, now: datetime | None = None) -> dict:
    """The values of the lists' parameters."""
    values = {"codes": sorted(codes), "today": today, "lookback_from": today - timedelta(days=TEST_LOOKBACK)}
    if now is not None:
        values["overdue_before"] = now - schedule.OVERDUE_AFTER
    return values


def last_day_expr():
    """SQL twin of schedule.last_day."""
    return func.coalesce(Arrival.self_monitoring_until, Arrival.plan_end, Arrival.plan_start)


def checked_on(day):
    """EXISTS a health check of the row's arrival dated `day` (a date or a SQL expression)."""
    return exists(select(HealthCheck.id).where(HealthCheck.arrival_id == Arrival.id,
                                               HealthCheck.check_date == day))


def _test_day(today):
    """SQL twin of schedule.test_today's day check: today's day of the plan (1 = arrival day) is one
    of the arrival's test days (a JSON list). Done in the database so the "tests" list is counted
    with the others in one query, instead of reading every candidate's JSON (about 20 ms a home)."""
    if db.engine.dialect.name == "postgresql":
        day = today - Arrival.plan_start + 1  # date - date is a number of days
        # An array contains a bare number: '[1, 7]'::jsonb @> '7'::jsonb
        return cast(Arrival.test_days, JSONB).op("@>")(func.to_jsonb(day))
    day = func.julianday(today) - func.julianday(Arrival.plan_start) + 1
    each = func.json_each(Arrival.test_days).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == day))


_BUILT: dict = {}  # (dialect, what) -> a condition or statement built once (see TODAY)


def _where(key: str):
    """The condition of list `key` (parameters: today, lookback_from), built once per dialect."""
    built = (db.engine.dialect.name, key)
    if built not in _BUILT:
        _BUILT[built] = _build_where(key, TODAY)
    return _BUILT[built]


def _build_where(key: str, today):
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
    if key == "tests":  # due today and not yet recorded
        return and_(monitored, Arrival.plan_start <= today,
                    Arrival.plan_start >= LOOKBACK_FROM, _test_day(today),
                    ~_tested_today(today))
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


def _base(key: str, q: str = ""):
    """The rows of list `key` (parameters: codes, today, lookback_from), searched for q."""
    stmt = (select(Arrival, Declaration).join(Declaration, Arrival.declaration_id == Declaration.id)
            .where(Arrival.commune_code.in_(CODES), _where(key)))
    condition = _search(q)
    return stmt.where(condition) if condition is not None else stmt


def _tested_today(today):
    return exists(select(HealthCheck.id).where(HealthCheck.arrival_id == Arrival.id,
                                               HealthCheck.check_date == today, HealthCheck.test_result != ""))


def counts(codes, today: date, now: datetime) -> dict[str, int]:
    """How many in each list, and how many expected are overdue: one query."""
    if not codes:
        return dict.fromkeys([*KEYS, "overdue"], 0)
    built = (db.engine.dialect.name, "counts")
    if built not in _BUILT:
        overdue = and_(Arrival.status == "expected", Arrival.expected_at < OVERDUE_BEFORE)
        _BUILT[built] = (select(*[func.count().filter(_where(k)) for k in KEYS], func.count().filter(overdue))
                         .select_from(Arrival).where(Arrival.commune_code.in_(CODES)))
    row = db.session.execute(_BUILT[built], params(codes, today, now)).one()
    return dict(zip([*KEYS, "overdue"], row))


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
    trips: int = 1  # the arrival's trip_count: later trips of the same person linked into it
    duplicates: int = 0  # other open follow-ups of the same person in these communes (to merge)


@dataclass
class Page:
    key: str
    rows: list[Row]
    page: int
    has_next: bool
    q: str


# Built once: an alias made per request rebuilds the column collections of the whole table
# (~3 ms of every list page, more than the query itself).
_OTHER, _OTHER_DECLARATION = aliased(Arrival, name="other_arrival"), aliased(Declaration, name="other_declaration")


def duplicates_of():
    """SQL: how many other open follow-ups of the row's person (same person row, or same ID number)
    the communes of parameter `codes` have; made before the person table or by two routings, they
    are one person to merge (followup.operations.merge). Correlated, one index lookup per row."""
    other, od = _OTHER, _OTHER_DECLARATION
    same = or_(od.person_id == Declaration.person_id,
               and_(Declaration.id_number != "", od.id_number == Declaration.id_number))
    return (select(func.count()).select_from(other).join(od, other.declaration_id == od.id)
            .where(other.id != Arrival.id, other.declaration_id != Arrival.declaration_id,
                   other.status.in_(schedule.OPEN), other.commune_code.in_(CODES), same)
            .correlate(Arrival, Declaration).scalar_subquery())


_DUPLICATES = duplicates_of()


def _one_row_per_person(chunk, dups):
    """A person followed twice shows once on a page: the first row (red first, then by name)."""
    seen, kept = set(), []
    for a, d in chunk:
        key = (d.person_id or (d.id_number or "").strip() or None) if dups.get(a.id) else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        kept.append((a, d))
    return kept


def _page_statement(key: str, q: str):
    """The rows of a list page, with "checked today" and the person's other follow-ups (EXISTS and a
    count per row rather than more round trips); unsearched lists built once per process."""
    built = (db.engine.dialect.name, "page", key)
    if q or built not in _BUILT:
        order = [Arrival.flagged.desc()]
        order += [Arrival.expected_at] if key == "expected" else []
        order += [Declaration.search_name, Arrival.id]
        stmt = _base(key, q).add_columns(checked_on(TODAY).label("checked"), _DUPLICATES.label("dups")).order_by(*order)
        if q:
            return stmt
        _BUILT[built] = stmt
    return _BUILT[built]


def page(codes, key: str, today: date, now: datetime, q: str = "", number: int = 1) -> Page:
    """One page of list `key` for the communes `codes`."""
    number = max(1, number)
    if not codes:
        return Page(key, [], 1, False, q)
    found = db.session.execute(_page_statement(key, q).offset((number - 1) * PAGE).limit(PAGE + 1),
                               params(codes, today)).all()
    has_next = len(found) > PAGE
    dups = {a.id: n for a, _d, _c, n in found[:PAGE] if n}
    chunk = _one_row_per_person([(a, d) for a, d, _c, _n in found[:PAGE]], dups)
    checked = {a.id for a, _d, c, _n in found[:PAGE] if c}
    rows = [Row(code=d.code, name=d.full_name, phone=d.phone, street=d.dest_street, status=a.status,
                flagged=a.flagged, overdue=schedule.overdue(a.status, a.expected_at, now), expected_at=a.expected_at,
                checked_today=a.id in checked,
                progress=schedule.progress(a, today, checked_today=a.id in checked), trips=a.trip_count or 1,
                duplicates=dups.get(a.id, 0))
            for a, d in chunk]
    return Page(key, rows, number, has_next, q)


def unsettled(codes, today: date):
    """Arrivals still "monitored" whose last day is over: the end rule has a decision to record."""
    last = last_day_expr()
    return select(Arrival).where(Arrival.commune_code.in_(sorted(codes)),
                                 Arrival.status.in_(schedule.MONITORED), last < today)
