"""Pure rules: vaccination status, origin epidemic level and the monitoring plan they give.

Everything here reads rows (rules, levels) but never writes; tests call it without HTTP.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Date, bindparam, func, or_, select

from ..extensions import db
from ..models import AreaLevel, MonitoringRule

FULL_AFTER_DAYS = 14  # fully vaccinated from 14 days after the last dose
RECOVERED_MONTHS_DAYS = 183  # "recovered within 6 months"
DEFAULT_LEVEL = 1  # an origin nobody has set a level for: the new normal (documented in README)


@dataclass(frozen=True)
class Plan:
    """What an arrival must do, and under which rule line it was decided."""

    measure: str
    days: int
    start: date
    end: date
    self_monitoring_until: date | None
    test_days: list[int] = field(default_factory=list)  # day numbers, 1 = arrival day
    needs_approval: bool = False
    instruction_code: int | None = None
    rule_id: int | None = None
    rule_version: int | None = None

    def test_dates(self) -> list[date]:
        return [self.start + timedelta(days=d - 1) for d in self.test_days]


def vaccination_status(doses: int, last_dose: date | None, recovered: date | None, on: date) -> str:
    """full, recovered, partial or none, as the 2021 rules counted them on the arrival date."""
    if doses >= 2 and last_dose and (on - last_dose).days >= FULL_AFTER_DAYS:
        return "full"
    if recovered and 0 <= (on - recovered).days <= RECOVERED_MONTHS_DAYS:
        return "recovered"
    if doses >= 1:
        return "partial"
    return "none"


def origin_level(province_code: str | None, commune_code: str | None, on: date) -> int:
    """The epidemic level in force on `on`: the commune's if set, else its province's."""
    for code in (commune_code, province_code):
        if not code:
            continue
        level = db.session.scalar(
            select(AreaLevel.level)
            .where(AreaLevel.area_code == code, AreaLevel.effective_from <= on,
                   or_(AreaLevel.effective_to.is_(None), AreaLevel.effective_to >= on))
            .order_by(AreaLevel.effective_from.desc(), AreaLevel.id.desc())
            .limit(1))
        if level is not None:
            return level
    return DEFAULT_LEVEL


def rule_version_in_force(on: date) -> int | None:
    """The newest published rule set effective on `on`."""
    return db.session.scalar(
        select(MonitoringRule.version)
        .where(MonitoringRule.published, MonitoringRule.effective_from <= on,
               or_(MonitoringRule.effective_to.is_(None), MonitoringRule.effective_to >= on))
        .order_by(MonitoringRule.version.desc()).limit(1))


def find_rule(level: int, vaccination: str, on: date, version: int | None = None) -> MonitoringRule | None:
    version = version if version is not None else rule_version_in_force(on)
    if version is None:
        return None
    return db.session.scalar(select(MonitoringRule).where(
        MonitoringRule.version == version, MonitoringRule.origin_level == level,
        MonitoringRule.vaccination == vaccination))


def plan_from_rule(rule: MonitoringRule | None, start: date) -> Plan:
    """The plan a rule line gives for an arrival on `start` (no rule: health declaration only)."""
    if rule is None:
        return Plan(measure="declaration_only", days=0, start=start, end=start, self_monitoring_until=None)
    end = start + timedelta(days=max(rule.days, 1) - 1)
    after = rule.self_monitoring_days_after
    return Plan(measure=rule.measure, days=rule.days, start=start, end=end,
                self_monitoring_until=end + timedelta(days=after) if after else None,
                test_days=list(rule.test_days or []), needs_approval=rule.needs_approval,
                instruction_code=rule.instruction_code, rule_id=rule.id, rule_version=rule.version)


def compute_plan(level: int, vaccination: str, arrival: date, version: int | None = None) -> Plan:
    """The plan for a traveller from an origin at `level` with `vaccination`, arriving on `arrival`."""
    return plan_from_rule(find_rule(level, vaccination, arrival, version), arrival)


def _level_in_force(code: str, on: date):
    """origin_level's lookup of one area, as a scalar subquery."""
    return (select(AreaLevel.level)
            .where(AreaLevel.area_code == code, AreaLevel.effective_from <= on,
                   or_(AreaLevel.effective_to.is_(None), AreaLevel.effective_to >= on))
            .order_by(AreaLevel.effective_from.desc(), AreaLevel.id.desc()).limit(1).scalar_subquery())


def plan_for_declaration(declaration, arrival: date, version: int | None = None) -> Plan:
    """The plan for a declared trip, with the origin level in force on the arrival date.

    origin_level + find_rule in one statement (the passage write is waiting on round trips):
    the rule line whose level is the commune's level, else the province's, else the default.
    """
    vaccination = vaccination_status(declaration.vaccine_doses or 0, declaration.last_dose_date,
                                     declaration.recovered_date, arrival)
    codes = [c for c in (declaration.origin_commune_code, declaration.origin_province_code) if c]
    params = {"on": arrival, "vaccination": vaccination, **{f"code_{i}": c for i, c in enumerate(codes)}}
    if version is not None:
        params["version"] = version
    rule = db.session.scalar(_rule_statement(len(codes), version is not None), params)
    return plan_from_rule(rule, arrival)


@cache
def _rule_statement(codes: int, versioned: bool):
    """plan_for_declaration's statement for `codes` origin units (0, 1 or 2) and a given or the
    current rule version, built once per shape: building it cost as much as sending it."""
    on = bindparam("on", type_=Date)
    level = (func.coalesce(*[_level_in_force(bindparam(f"code_{i}"), on) for i in range(codes)], DEFAULT_LEVEL)
             if codes else DEFAULT_LEVEL)
    version = bindparam("version") if versioned else (
        select(MonitoringRule.version)
        .where(MonitoringRule.published, MonitoringRule.effective_from <= on,
               or_(MonitoringRule.effective_to.is_(None), MonitoringRule.effective_to >= on))
        .order_by(MonitoringRule.version.desc()).limit(1).scalar_subquery())
    return select(MonitoringRule).where(
        MonitoringRule.version == version, MonitoringRule.origin_level == level,
        MonitoringRule.vaccination == bindparam("vaccination")).limit(1)


class PlanCache:
    """plan_for_declaration for many rows at once (imports): each distinct origin, date and
    vaccination status is looked up once, so 100,000 rows cost a few hundred queries."""

    def __init__(self):
        self._levels: dict[tuple, int] = {}
        self._plans: dict[tuple, Plan] = {}

    def plan(self, origin_province: str | None, origin_commune: str | None, doses: int,
             last_dose: date | None, recovered: date | None, arrival: date) -> Plan:
        key = (origin_province, origin_commune, arrival)
        if key not in self._levels:
            self._levels[key] = origin_level(origin_province, origin_commune, arrival)
        vaccination = vaccination_status(doses or 0, last_dose, recovered, arrival)
        plan_key = (self._levels[key], vaccination, arrival)
        if plan_key not in self._plans:
            self._plans[plan_key] = compute_plan(*plan_key)
        return self._plans[plan_key]
