"""The plan stored on an arrival, for every line of the seeded Ministry template, with boundary dates."""
from datetime import date, datetime, timedelta, timezone

import pytest

from kiemdich.extensions import db
from kiemdich.followup.operations import route_arrival
from kiemdich.rules.plan import compute_plan, plan_for_declaration
from kiemdich.seeds import TEMPLATE
from tests.factories import AreaLevelFactory, DeclarationFactory, PassageFactory

ARRIVAL = date(2021, 11, 20)


@pytest.mark.parametrize("line", TEMPLATE, ids=[f"level{t[0]}-{t[1]}" for t in TEMPLATE])
def test_every_line_of_the_seed_table(app, line):
    level, vaccination, measure, days, after, tests, approval, instruction = line
    plan = compute_plan(level, vaccination, ARRIVAL)
    assert (plan.measure, plan.days, plan.test_days, plan.needs_approval, plan.instruction_code) == (
        measure, days, tests, approval, instruction)
    assert plan.start == ARRIVAL and plan.rule_version == 1 and plan.rule_id is not None
    assert plan.end == ARRIVAL + timedelta(days=max(days, 1) - 1)
    assert plan.self_monitoring_until == (plan.end + timedelta(days=after) if after else None)


def _level4_declaration(**kwargs):
    AreaLevelFactory(area_code="79", level=4, effective_from=date(2021, 10, 1))
    return DeclarationFactory(origin_province_code="79", origin_commune_code=None, **kwargs)


@pytest.mark.parametrize("dose_days_ago,measure", [(13, "home_quarantine"), (14, "self_monitoring")])
def test_second_dose_13_or_14_days_before_arrival(app, dose_days_ago, measure):
    decl = _level4_declaration(vaccine_doses=2, last_dose_date=ARRIVAL - timedelta(days=dose_days_ago))
    assert plan_for_declaration(decl, ARRIVAL).measure == measure


@pytest.mark.parametrize("recovered_days_ago,measure", [(183, "self_monitoring"), (184, "central_quarantine")])
def test_recovery_six_months_before_arrival(app, recovered_days_ago, measure):
    decl = _level4_declaration(vaccine_doses=0, last_dose_date=None,
                               recovered_date=ARRIVAL - timedelta(days=recovered_days_ago))
    assert plan_for_declaration(decl, ARRIVAL).measure == measure


def test_the_plan_is_stored_on_the_routed_arrival(app):
    AreaLevelFactory(area_code="79", level=4, effective_from=date(2021, 10, 1))
    passage = PassageFactory(declaration__origin_province_code="79", declaration__vaccine_doses=1,
                             declaration__last_dose_date=ARRIVAL - timedelta(days=40))
    arrival = route_arrival(passage.declaration, passage=passage,
                            at=datetime(2021, 11, 20, 3, 0, tzinfo=timezone.utc))
    db.session.commit()
    assert (arrival.measure, arrival.plan_start, arrival.plan_end, arrival.self_monitoring_until) == (
        "home_quarantine", ARRIVAL, date(2021, 11, 26), date(2021, 12, 3))
    assert arrival.test_days == [1, 7] and arrival.instruction_code == 7 and arrival.rule_version == 1
