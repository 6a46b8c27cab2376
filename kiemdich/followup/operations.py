"""State changes of follow-up: plain functions, no request parsing."""
from flask import current_app

from .. import clock
from ..extensions import db
from ..models import Arrival, ArrivalEvent
from ..rules.plan import Plan, plan_for_declaration


def in_home_province(commune_code: str | None) -> bool:
    """True when the commune lies in the deployment's province (else the trip is transit)."""
    from ..models import AdminUnit

    if not commune_code:
        return False
    unit = db.session.get(AdminUnit, commune_code)
    return unit is not None and unit.parent_code == current_app.config["KIEMDICH_PROVINCE"]


def apply_plan(arrival: Arrival, plan: Plan) -> None:
    arrival.measure = plan.measure
    arrival.plan_start = plan.start
    arrival.plan_end = plan.end
    arrival.self_monitoring_until = plan.self_monitoring_until
    arrival.test_days = list(plan.test_days)
    arrival.needs_approval = plan.needs_approval
    arrival.instruction_code = plan.instruction_code
    arrival.rule_id = plan.rule_id
    arrival.rule_version = plan.rule_version


def route_arrival(declaration, *, passage=None, commune_code: str | None = None, user=None,
                  at=None, plan: Plan | None = None) -> Arrival | None:
    """Route a traveller to the commune of their destination as an expected arrival.

    Used on passage at a checkpoint and on import, inside the caller's transaction. Returns None
    (nothing routed) when the destination lies outside the province: that trip is transit.
    The plan is computed from the rules in force on the arrival date unless given.
    """
    commune_code = commune_code or declaration.dest_commune_code
    if not in_home_province(commune_code):
        return None
    at = at or clock.utcnow()
    plan = plan or plan_for_declaration(declaration, clock.today(at))
    arrival = Arrival(declaration=declaration, passage=passage,
                      commune_code=commune_code, status="expected", expected_at=at, created_at=at)
    apply_plan(arrival, plan)
    db.session.add(arrival)
    db.session.add(ArrivalEvent(arrival=arrival, at=at, user_id=getattr(user, "id", None), action="routed",
                                to_status="expected",
                                data={"rule_version": plan.rule_version}))
    return arrival
