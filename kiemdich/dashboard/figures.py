"""The supervisors' figures, counted in SQL (GROUP BY), each defined once and shared with its drill-down list.

A figure is a condition on one base table (declarations, passages or arrivals). The dashboard sums
the condition per local day, checkpoint or commune; the drill-down lists the rows that satisfy it,
so a figure and the list behind it cannot disagree.

Days: declarations count on the day they were sent, passages on the day the server recorded them
(as the passage export does), arrivals on the day they were routed to the commune, in their state
now (so "confirmed" under 3 November means: routed on 3 November and confirmed since).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..clock import LOCAL
from ..exports.operations import local_range
from ..extensions import db
from ..models import AdminUnit, Arrival, Checkpoint, Declaration, Passage

MAX_DAYS = 92
OVERDUE = timedelta(hours=24)


class local_date(FunctionElement):  # noqa: N801  (reads like the SQL function it stands for)
    """The Asia/Ho_Chi_Minh calendar date of a stored (naive UTC) timestamp, computed by the database."""

    type = Date()
    inherit_cache = True
    name = "local_date"


def _offset_minutes() -> int:
    # Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact and
    # cheaper per row than a time-zone lookup (measured: bench/dashboard_100k.py).
    return int(datetime.now(LOCAL).utcoffset().total_seconds() // 60)


@compiles(local_date, "postgresql")
def _local_date_pg(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} + INTERVAL '{_offset_minutes()} minutes' AS DATE)"


@compiles(local_date)
def _local_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '{_offset_minutes():+d} minutes')"


@dataclass(frozen=True)
class Figure:
    """One number on the dashboard: a condition on the rows of a base table (None: every row)."""

    key: str
    base: str
    label: object
    condition: object = None  # callable(now) -> SQL expression, or None

    def where(self, now: datetime):
        return self.condition(now) if self.condition is not None else None


FIGURES = [
    Figure("decl", "declaration", _l("Declarations")),
    Figure("p_all", "passage", _l("Passages")),
    Figure("p_allow", "passage", _l("Allowed through"), lambda now: Passage.decision == "allow"),
    Figure("p_refuse", "passage", _l("Refused"), lambda now: Passage.decision == "refuse"),
    Figure("p_quar", "passage", _l("Sent to quarantine"), lambda now: Passage.decision == "quarantine"),
    Figure("t_rapid", "passage", _l("Rapid tests"), lambda now: Passage.test_taken == "rapid"),
    Figure("t_pool", "passage", _l("Pooled RT-PCR"), lambda now: Passage.test_taken == "pcr_pooled"),
    Figure("t_pcr", "passage", _l("Single RT-PCR"), lambda now: Passage.test_taken == "pcr_single"),
    Figure("a_exp", "arrival", _l("Arrivals")),
    Figure("a_conf", "arrival", _l("Confirmed"), lambda now: Arrival.arrived_at.is_not(None)),
    Figure("a_late", "arrival", _l("Overdue > 24 h"),
           lambda now: (Arrival.status == "expected") & (Arrival.expected_at < now - OVERDUE)),
    Figure("a_mon", "arrival", _l("Under monitoring"), lambda now: Arrival.status.in_(("arrived", "monitoring"))),
    Figure("a_sym", "arrival", _l("With symptoms"), lambda now: Arrival.flagged.is_(True)),
    Figure("a_ref", "arrival", _l("Referred"), lambda now: Arrival.status == "referred"),
    Figure("a_done", "arrival", _l("Completed"), lambda now: Arrival.status == "completed"),
    Figure("a_unchk", "arrival", _l("Ended without final check"), lambda now: Arrival.status == "ended_unchecked"),
    Figure("a_lost", "arrival", _l("Lost contact"), lambda now: Arrival.status == "lost_contact"),
]
BY_KEY = {f.key: f for f in FIGURES}
PASSAGE_KEYS = ["p_all", "p_allow", "p_refuse", "p_quar", "t_rapid", "t_pool", "t_pcr"]
ARRIVAL_KEYS = ["decl", "a_exp", "a_conf", "a_late", "a_mon", "a_sym", "a_ref", "a_done", "a_unchk", "a_lost"]


@dataclass(frozen=True)
class Scope:
    """Whose figures over which days: the communes in view, the local days, and 'now' for overdue."""

    communes: frozenset
    start: date
    end: date
    now: datetime

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def _base(name: str, scope: Scope):
    """(FROM/WHERE select without columns, the moment column, dimensions) of a base table in scope."""
    lo, hi = local_range(scope.start, scope.end)
    communes = list(scope.communes)
    if name == "declaration":
        where = [Declaration.dest_commune_code.in_(communes), Declaration.created_at >= lo, Declaration.created_at < hi]
        return Declaration, [], where, Declaration.created_at, {"commune": Declaration.dest_commune_code}
    if name == "passage":
        # A self check-in waiting for staff has no decision yet: it is not a passage to count.
        where = [Checkpoint.commune_code.in_(communes), Passage.decision.is_not(None),
                 Passage.server_ts >= lo, Passage.server_ts < hi]
        joins = [(Checkpoint, Checkpoint.id == Passage.checkpoint_id)]
        return Passage, joins, where, Passage.server_ts, {"checkpoint": Passage.checkpoint_id}
    where = [Arrival.commune_code.in_(communes), Arrival.expected_at >= lo, Arrival.expected_at < hi]
    return Arrival, [], where, Arrival.expected_at, {"commune": Arrival.commune_code}


def _grouped(base: str, by: str, scope: Scope) -> tuple[dict, dict]:
    """One GROUP BY (day, checkpoint or commune) over a base table in scope, rolled up into
    ({day: {figure key: n}}, {checkpoint id or commune code: {figure key: n}}).

    One pass over the rows; the roll-up adds at most days x communes grouped rows, never data rows.
    """
    model, joins, where, moment, dims = _base(base, scope)
    day, dim = local_date(moment), dims[by]
    figures = [f for f in FIGURES if f.base == base]
    columns = []
    for figure in figures:
        condition = figure.where(scope.now)
        count = func.count() if condition is None else func.count().filter(condition)
        columns.append(count.label(figure.key))
    stmt = select(day.label("day"), dim.label("dim"), *columns).select_from(model)
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(*where).group_by(day, dim)
    keys = [f.key for f in figures]
    by_day: dict = {}
    by_dim: dict = {}
    for row in db.session.execute(stmt):
        d = date.fromisoformat(row[0]) if isinstance(row[0], str) else row[0]
        for target, key in ((by_day, d), (by_dim, row[1])):
            counts = target.setdefault(key, dict.fromkeys(keys, 0))
            for k, v in zip(keys, row[2:]):
                counts[k] += int(v or 0)
    return by_day, by_dim


@dataclass
class Figures:
    """What the dashboard shows for a scope: per day, per checkpoint, per commune, and totals."""

    scope: Scope
    by_day: dict = field(default_factory=dict)  # date -> {key: n}, every day of the period
    by_checkpoint: list = field(default_factory=list)  # [(Checkpoint, {key: n})]
    by_commune: list = field(default_factory=list)  # [(AdminUnit, {key: n})]
    totals: dict = field(default_factory=dict)


def compute(scope: Scope) -> Figures:
    """Every figure of the dashboard: three GROUP BY queries, whatever the number of rows."""
    keys = [f.key for f in FIGURES]
    by_day = {day: dict.fromkeys(keys, 0) for day in scope.days}
    per_dim = {}
    for base, by in (("declaration", "commune"), ("passage", "checkpoint"), ("arrival", "commune")):
        days, per_dim[base] = _grouped(base, by, scope)
        for day, counts in days.items():
            if day in by_day:
                by_day[day].update(counts)
    totals = {k: sum(row[k] for row in by_day.values()) for k in keys}

    per_checkpoint = per_dim["passage"]
    checkpoints = db.session.scalars(select(Checkpoint).where(Checkpoint.id.in_(list(per_checkpoint)))).all()
    by_checkpoint = sorted(((cp, per_checkpoint[cp.id]) for cp in checkpoints), key=lambda item: item[0].name)

    per_commune: dict = {}
    for base in ("declaration", "arrival"):
        for code, counts in per_dim[base].items():
            per_commune.setdefault(code, dict.fromkeys(ARRIVAL_KEYS, 0)).update(counts)
    units = db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(list(per_commune)))).all()
    by_commune = sorted(((u, per_commune[u.code]) for u in units), key=lambda item: item[0].search_name)
    return Figures(scope=scope, by_day=by_day, by_checkpoint=by_checkpoint, by_commune=by_commune,
                   totals=totals)


def drill(key: str, scope: Scope, *, day: date | None = None, checkpoint_id: int | None = None,
          commune: str | None = None):
    """The select of the rows behind one figure, newest first (see items())."""
    figure = BY_KEY[key]
    if day is not None:
        scope = Scope(scope.communes, day, day, scope.now)
    model, joins, where, moment, dims = _base(figure.base, scope)
    condition = figure.where(scope.now)
    if condition is not None:
        where.append(condition)
    if checkpoint_id is not None:
        if "checkpoint" not in dims:
            raise KeyError(key)
        where.append(dims["checkpoint"] == checkpoint_id)
    if commune is not None:
        if "commune" not in dims:
            raise KeyError(key)
        where.append(dims["commune"] == commune)
    if figure.base == "passage":
        stmt = (select(Passage, Declaration, Checkpoint.name).select_from(Passage)
                .join(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
                .join(Declaration, Declaration.id == Passage.declaration_id))
    elif figure.base == "arrival":
        stmt = (select(Arrival, Declaration, AdminUnit.name).select_from(Arrival)
                .join(Declaration, Declaration.id == Arrival.declaration_id)
                .join(AdminUnit, AdminUnit.code == Arrival.commune_code))
    else:
        stmt = (select(Declaration, AdminUnit.name).select_from(Declaration)
                .outerjoin(AdminUnit, AdminUnit.code == Declaration.dest_commune_code))
    return stmt.where(*where).order_by(moment.desc(), model.id.desc())


@dataclass(frozen=True)
class Item:
    """One line of a drill-down list."""

    moment: datetime
    declaration: Declaration
    place: str  # checkpoint name for passages, commune name otherwise
    state: str = ""  # decision of a passage, status of an arrival
    test: str = ""
    flagged: bool = False


def items(base: str, stmt, offset: int, limit: int) -> list[Item]:
    """A page of a drill-down list."""
    rows = db.session.execute(stmt.offset(offset).limit(limit)).all()
    if base == "passage":
        return [Item(p.server_ts, d, name, p.decision or "", p.test_taken) for p, d, name in rows]
    if base == "arrival":
        return [Item(a.expected_at, d, name, a.status, flagged=a.flagged) for a, d, name in rows]
    return [Item(d.created_at, d, name or "") for d, name in rows]


def count(stmt) -> int:
    """How many rows a drill-down select gives."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
