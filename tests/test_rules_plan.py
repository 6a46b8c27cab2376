"""The pure rules: vaccination status, origin level, and the plan from the Ministry template."""
from datetime import date, timedelta

import pytest

from kiemdich.extensions import db
from kiemdich.followup.operations import route_arrival
from kiemdich.rules.plan import compute_plan, origin_level, plan_for_declaration, vaccination_status
from tests.factories import AreaLevelFactory, DeclarationFactory, MonitoringRuleFactory, PassageFactory

ARRIVAL = date(2021, 11, 20)


@pytest.mark.parametrize("doses,last,recovered,expected", [
    (2, ARRIVAL - timedelta(days=14), None, "full"),
    (2, ARRIVAL - timedelta(days=13), None, "partial"),  # second dose too recent
    (3, ARRIVAL - timedelta(days=200), None, "full"),
    (1, ARRIVAL - timedelta(days=60), None, "partial"),
    (0, None, None, "none"),
    (0, None, ARRIVAL - timedelta(days=183), "recovered"),
    (0, None, ARRIVAL - timedelta(days=184), "none"),  # recovered more than 6 months ago
    (1, ARRIVAL - timedelta(days=30), ARRIVAL - timedelta(days=10), "recovered"),
])
def test_vaccination_status(doses, last, recovered, expected):
    assert vaccination_status(doses, last, recovered, ARRIVAL) == expected


def test_moh_template_for_level_4(app):
    full = compute_plan(4, "full", ARRIVAL)
    assert (full.measure, full.days, full.test_days, full.instruction_code) == ("self_monitoring", 7, [1], 5)
    assert full.end == date(2021, 11, 26) and full.self_monitoring_until is None
    partial = compute_plan(4, "partial", ARRIVAL)
    assert (partial.measure, partial.days, partial.test_days, partial.instruction_code) == ("home_quarantine", 7, [1, 7], 7)
    assert partial.self_monitoring_until == date(2021, 12, 3)
    assert partial.test_dates() == [date(2021, 11, 20), date(2021, 11, 26)]
    none = compute_plan(4, "none", ARRIVAL)
    assert (none.measure, none.days, none.needs_approval, none.instruction_code) == ("central_quarantine", 14, True, 8)
    assert none.test_days == [1, 7, 14] and none.self_monitoring_until == date(2021, 12, 17)
    assert compute_plan(4, "recovered", ARRIVAL).measure == "self_monitoring"


@pytest.mark.parametrize("level", [1, 2])
def test_low_levels_need_only_a_health_declaration(app, level):
    plan = compute_plan(level, "none", ARRIVAL)
    assert (plan.measure, plan.test_days, plan.needs_approval) == ("declaration_only", [], False)


def test_origin_level_in_force_on_the_date_commune_over_province(app):
    AreaLevelFactory(area_code="79", level=2, effective_from=date(2021, 10, 1), effective_to=date(2021, 11, 14))
    AreaLevelFactory(area_code="79", level=4, effective_from=date(2021, 11, 15))
    AreaLevelFactory(area_code="26506", level=3, effective_from=date(2021, 11, 18))
    db.session.commit()
    assert origin_level("79", "26734", date(2021, 11, 1)) == 2
    assert origin_level("79", "26734", date(2021, 11, 20)) == 4
    assert origin_level("79", "26506", date(2021, 11, 17)) == 4
    assert origin_level("79", "26506", date(2021, 11, 20)) == 3  # the commune's own level wins
    assert origin_level("01", None, date(2021, 11, 20)) == 1  # never set: level 1


def test_a_newer_published_rule_set_supersedes_and_drafts_do_not(app):
    MonitoringRuleFactory(version=2, effective_from=date(2021, 12, 1), origin_level=4, vaccination="partial",
                          measure="self_monitoring", days=5, test_days=[1], published=False)
    db.session.commit()
    assert compute_plan(4, "partial", date(2021, 12, 5)).rule_version == 1  # draft ignored
    MonitoringRuleFactory(version=3, effective_from=date(2021, 12, 1), origin_level=4, vaccination="partial",
                          measure="self_monitoring", days=5, test_days=[1], published=True)
    db.session.commit()
    later = compute_plan(4, "partial", date(2021, 12, 5))
    assert (later.rule_version, later.measure, later.days) == (3, "self_monitoring", 5)
    assert compute_plan(4, "partial", date(2021, 11, 30)).rule_version == 1  # before it took effect


def test_plan_for_a_declaration(app):
    AreaLevelFactory(area_code="79", level=4, effective_from=date(2021, 11, 1))
    decl = DeclarationFactory(origin_province_code="79", vaccine_doses=1, last_dose_date=date(2021, 10, 1))
    plan = plan_for_declaration(decl, ARRIVAL)
    assert (plan.measure, plan.instruction_code) == ("home_quarantine", 7)


def test_route_arrival_in_the_province(app):
    AreaLevelFactory(area_code="79", level=4)
    passage = PassageFactory(declaration__vaccine_doses=0, declaration__last_dose_date=None)
    arrival = route_arrival(passage.declaration, passage=passage)
    db.session.commit()
    assert (arrival.status, arrival.commune_code, arrival.measure) == ("expected", "25210", "central_quarantine")
    assert arrival.passage_id == passage.id and arrival.rule_version == 1 and arrival.needs_approval
    assert arrival.events[0].action == "routed"


def test_route_arrival_outside_the_province_is_transit(app):
    decl = DeclarationFactory(dest_commune_code="26506")  # Hồ Chí Minh City
    assert route_arrival(decl) is None
