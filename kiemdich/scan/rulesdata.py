"""The rules a checkpoint phone needs offline, as one small JSON document."""
from datetime import date

from flask import current_app
from sqlalchemy import select

from ..areas.operations import provinces, search_communes
from ..extensions import db
from ..models import Instruction, MonitoringRule
from ..rules.plan import DEFAULT_LEVEL, origin_level, rule_version_in_force


def offline_rules(day: date) -> dict:
    """Published rule lines in force on `day`, instruction labels, province levels, home communes.

    The browser computes the instruction from these when it cannot reach the server; the
    server recomputes from the declaration (with the origin commune's own level) on sync.
    """
    version = rule_version_in_force(day)
    lines = db.session.scalars(select(MonitoringRule).where(MonitoringRule.version == version)
                               .order_by(MonitoringRule.origin_level, MonitoringRule.vaccination)) \
        if version is not None else []
    home = current_app.config["KIEMDICH_PROVINCE"]
    return {
        "day": day.isoformat(),
        "version": version,
        "default_level": DEFAULT_LEVEL,
        # level, vaccination, instruction, measure, days, then (for the conditions the card spells
        # out) test days, self-monitoring days after, needs approval
        "rules": [[r.origin_level, r.vaccination, r.instruction_code, r.measure, r.days,
                   list(r.test_days or []), r.self_monitoring_days_after or 0, bool(r.needs_approval)]
                  for r in lines],
        "instructions": {str(i.code): i.label for i in db.session.scalars(select(Instruction).order_by(Instruction.code))},
        "provinces": [[p.code, p.name, origin_level(p.code, None, day)] for p in provinces()],
        "province": home,
        "communes": {c.code: c.name for c in search_communes("", home, 2000)},
    }
