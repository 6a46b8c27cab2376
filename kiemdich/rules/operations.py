"""Editing policy as data: epidemic levels with effective dates, and monitoring rule sets as versions.

Published rule versions are never changed: a change is a copy (a draft), edited, previewed and
published with its own effective dates. Arrivals keep the rule version they were given. Level entries
are never changed either: a new entry from a date overrides the older ones from that date on
(rules/plan.origin_level picks the newest entry in force). Every change writes one audit event.
"""
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import AdminUnit, AreaLevel, Instruction, MonitoringRule
from ..models.followup import MEASURES
from ..models.rules import VACCINATION
from .plan import compute_plan, rule_version_in_force, vaccination_status

LEVELS = (1, 2, 3, 4, 5)  # 5 = lockdown (phong tỏa)
MAX_DAYS = 60


class PolicyError(ValueError):
    """A change that cannot be made; the message is shown next to the field named by `field`."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def can_edit_policy(user) -> bool:
    """Levels and rules apply to the whole province: only supervisors of the whole province edit them."""
    return user.role == "supervisor" and current_app.config["KIEMDICH_PROVINCE"] in user.area_codes


def _policy_area() -> str:
    return current_app.config["KIEMDICH_PROVINCE"]


# --- Epidemic levels -----------------------------------------------------------------------------

def describe_level(entry: AreaLevel) -> dict:
    return {"area": entry.area_code, "level": entry.level, "from": entry.effective_from.isoformat(),
            "to": entry.effective_to.isoformat() if entry.effective_to else None, "note": entry.note}


def set_level(area_code: str, level: int, effective_from: date, effective_to: date | None = None,
              note: str = "", *, by=None) -> AreaLevel:
    """Record the level of a province or commune from a date (optionally until a date); history is kept."""
    unit = db.session.get(AdminUnit, area_code or "")
    if unit is None or unit.dataset != "vn2025" or unit.kind not in ("province", "commune"):
        raise PolicyError(_("Choose a province or a commune."), "area")
    if level not in LEVELS:
        raise PolicyError(_("Choose a level from 1 to 4, or lockdown."), "level")
    if effective_from is None:
        raise PolicyError(_("Choose the date the level applies from."), "effective_from")
    if effective_to is not None and effective_to < effective_from:
        raise PolicyError(_("The end date is before the start date."), "effective_to")
    entry = AreaLevel(area_code=unit.code, level=level, effective_from=effective_from, effective_to=effective_to,
                      note=(note or "").strip()[:2000], set_by_id=getattr(by, "id", None))
    db.session.add(entry)
    db.session.flush()
    audit.record("level.set", entry, user=by, after=describe_level(entry), area_code=_policy_area(),
                 detail=unit.name)
    return entry


def level_history() -> list[tuple[AdminUnit, list[AreaLevel]]]:
    """Every area that has had a level, with its entries newest first (a few hundred rows at most)."""
    entries = db.session.scalars(select(AreaLevel).order_by(AreaLevel.area_code, AreaLevel.effective_from.desc(),
                                                            AreaLevel.id.desc())).all()
    units = {u.code: u for u in db.session.scalars(
        select(AdminUnit).where(AdminUnit.code.in_({e.area_code for e in entries})))}
    grouped: dict[str, list[AreaLevel]] = {}
    for entry in entries:
        grouped.setdefault(entry.area_code, []).append(entry)
    return sorted(((units[code], rows) for code, rows in grouped.items()), key=lambda item: item[0].search_name)


def entry_in_force(entries: list[AreaLevel], on: date) -> AreaLevel | None:
    """The entry origin_level() would use on `on`, among one area's entries (newest first)."""
    for entry in entries:  # sorted by effective_from desc, id desc: the first that covers `on` wins
        if entry.effective_from <= on and (entry.effective_to is None or entry.effective_to >= on):
            return entry
    return None


# --- Rule versions ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """A rule set: its lines share a version number, a name, effective dates and the published flag."""

    number: int
    name: str
    effective_from: date
    effective_to: date | None
    published: bool
    lines: int
    source: str

    def state(self, on: date, in_force: int | None) -> str:
        if not self.published:
            return "draft"
        if self.number == in_force:
            return "in_force"
        if self.effective_from > on:
            return "scheduled"
        return "superseded" if self.effective_to is None or self.effective_to >= on else "ended"


def versions() -> list[Version]:
    """Every rule set, newest first (one GROUP BY over the rule lines)."""
    first = (select(MonitoringRule.version, func.min(MonitoringRule.id).label("id"), func.count().label("n"))
             .group_by(MonitoringRule.version).subquery())
    rows = db.session.execute(select(MonitoringRule, first.c.n).join(first, first.c.id == MonitoringRule.id)
                              .order_by(MonitoringRule.version.desc())).all()
    return [Version(r.version, r.name, r.effective_from, r.effective_to, r.published, n, r.source) for r, n in rows]


def version(number: int) -> Version | None:
    return next((v for v in versions() if v.number == number), None)


def lines(number: int) -> list[MonitoringRule]:
    """The lines of a rule set in reading order: origin level, then vaccination."""
    order = {v: i for i, v in enumerate(VACCINATION)}
    rows = db.session.scalars(select(MonitoringRule).where(MonitoringRule.version == number)).all()
    return sorted(rows, key=lambda r: (r.origin_level, order.get(r.vaccination, 9)))


def describe_line(rule: MonitoringRule) -> dict:
    return {"level": rule.origin_level, "vaccination": rule.vaccination, "measure": rule.measure, "days": rule.days,
            "after": rule.self_monitoring_days_after, "tests": list(rule.test_days or []),
            "approval": rule.needs_approval, "instruction": rule.instruction_code}


def _draft(number: int) -> list[MonitoringRule]:
    rows = lines(number)
    if not rows:
        raise PolicyError(_("This rule version does not exist."))
    if any(r.published for r in rows):
        raise PolicyError(_("A published version cannot be changed: copy it to a new draft."))
    return rows


def copy_version(number: int, *, by=None, today: date | None = None) -> int:
    """A new draft with the lines of `number` (and any missing level x vaccination line as "declaration only")."""
    source = lines(number)
    if not source:
        raise PolicyError(_("This rule version does not exist."))
    new = (db.session.scalar(select(func.max(MonitoringRule.version))) or 0) + 1
    head = source[0]
    have = {(r.origin_level, r.vaccination): r for r in source}
    for level in LEVELS:
        for vacc in VACCINATION:
            r = have.get((level, vacc))
            db.session.add(MonitoringRule(
                version=new, name=head.name, effective_from=today or head.effective_from, effective_to=None,
                published=False, origin_level=level, vaccination=vacc,
                measure=r.measure if r else "declaration_only", days=r.days if r else 0,
                self_monitoring_days_after=r.self_monitoring_days_after if r else 0,
                test_days=list(r.test_days or []) if r else [], needs_approval=r.needs_approval if r else False,
                instruction_code=r.instruction_code if r else None, source=head.source,
                created_by_id=getattr(by, "id", None)))
    db.session.flush()
    audit.record("rule.copy", object_type="MonitoringRule", object_id=str(new), user=by,
                 after={"version": new, "copied_from": number}, area_code=_policy_area())
    return new


def parse_test_days(text: str) -> list[int]:
    """ "1, 7, 14" -> [1, 7, 14]; PolicyError on anything else."""
    parts = [p for p in (text or "").replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        days = sorted({int(p) for p in parts})
    except ValueError:
        raise PolicyError(_("Write the test days as numbers separated by commas, e.g. 1, 7, 14."), "test_days") from None
    if any(d < 1 or d > MAX_DAYS for d in days):
        raise PolicyError(_("Test days run from 1 (the arrival day) to %(n)s.", n=MAX_DAYS), "test_days")
    return days


def update_line(rule: MonitoringRule, *, measure: str, days: int, after: int, test_days: list[int],
                needs_approval: bool, instruction_code: int | None, by=None) -> None:
    """Change one line of a draft."""
    _draft(rule.version)
    if measure not in MEASURES:
        raise PolicyError(_("Choose a measure."), "measure")
    if not 0 <= (days or 0) <= MAX_DAYS or not 0 <= (after or 0) <= MAX_DAYS:
        raise PolicyError(_("Days run from 0 to %(n)s.", n=MAX_DAYS), "days")
    if measure != "declaration_only" and not days:
        raise PolicyError(_("A measure other than the health declaration needs a number of days."), "days")
    if instruction_code is not None and db.session.get(Instruction, instruction_code) is None:
        raise PolicyError(_("Unknown instruction code."), "instruction_code")
    before = describe_line(rule)
    rule.measure, rule.days, rule.self_monitoring_days_after = measure, days or 0, after or 0
    rule.test_days, rule.needs_approval, rule.instruction_code = list(test_days), bool(needs_approval), instruction_code
    after_ = describe_line(rule)
    if before != after_:
        audit.record("rule.edit", rule, user=by, before=before, after=after_ | {"version": rule.version},
                     area_code=_policy_area())


def update_meta(number: int, *, name: str, source: str, by=None) -> None:
    """Rename a draft and say which decision it implements."""
    rows = _draft(number)
    name, source = (name or "").strip()[:160], (source or "").strip()[:2000]
    if not name:
        raise PolicyError(_("Give the version a name."), "name")
    before = {"name": rows[0].name, "source": rows[0].source}
    for r in rows:
        r.name, r.source = name, source
    if before != {"name": name, "source": source}:
        audit.record("rule.edit", object_type="MonitoringRule", object_id=str(number), user=by, before=before,
                     after={"name": name, "source": source, "version": number}, area_code=_policy_area())


def publish(number: int, effective_from: date, effective_to: date | None = None, *, by=None) -> None:
    """Publish a draft: from `effective_from` new arrivals get it; arrivals already routed keep theirs."""
    rows = _draft(number)
    if effective_from is None:
        raise PolicyError(_("Choose the date the rules apply from."), "effective_from")
    if effective_to is not None and effective_to < effective_from:
        raise PolicyError(_("The end date is before the start date."), "effective_to")
    for r in rows:
        r.published, r.effective_from, r.effective_to = True, effective_from, effective_to
    audit.record("rule.publish", object_type="MonitoringRule", object_id=str(number), user=by,
                 after={"version": number, "from": effective_from.isoformat(),
                        "to": effective_to.isoformat() if effective_to else None}, area_code=_policy_area())


@dataclass(frozen=True)
class Preview:
    vaccination: str
    plan: object  # rules.plan.Plan under the version previewed
    current: object | None  # the plan under the version in force on the arrival date, for comparison
    current_version: int | None


def preview(number: int, level: int, doses: int, last_dose: date | None, recovered: date | None,
            arrival: date) -> Preview:
    """What a traveller would get under version `number` (rules/plan.compute_plan, the one implementation)."""
    vaccination = vaccination_status(doses or 0, last_dose, recovered, arrival)
    in_force = rule_version_in_force(arrival)
    current = compute_plan(level, vaccination, arrival) if in_force is not None and in_force != number else None
    return Preview(vaccination, compute_plan(level, vaccination, arrival, version=number), current, in_force)
