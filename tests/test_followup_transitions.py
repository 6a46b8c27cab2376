"""Every state-changing follow-up action × every arrival state (a property test).

Allowed transitions do what they say (the new status, one history event, one audit row for an
officer); refused ones raise FollowupError (confirm_arrival answers False: a replay is not an
error) and write nothing: no event, no audit row, no change to any column of the arrival.
The inputs (reasons, days, facility...) are drawn by Hypothesis; every pair (action, status) is
run for each example, so no pair depends on luck.
"""
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck as Health, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.followup import operations as ops
from kiemdich.followup import schedule
from kiemdich.models import Arrival, ArrivalEvent, AuditEvent, HealthCheck
from kiemdich.models.followup import ARRIVAL_STATUSES
from tests.factories import ArrivalFactory, UserFactory

OTHER = "25417"  # Xã Nghĩa Trung: another commune of the province

reasons = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40) \
    .filter(lambda s: s.strip())


def _confirm(arrival, user, data):
    return ops.confirm_arrival(arrival, data.draw(st.sampled_from(["visit", "phone", "self"])), user=user)


def _check(arrival, user, data):
    values = ops.CheckInput(temperature=data.draw(st.sampled_from(["36.5", "36.9", ""])), source="visit",
                            present=True)
    return ops.record_check(arrival, values, client_uuid=str(uuid.uuid4()), user=user)


def _change_plan(arrival, user, data):
    return ops.change_plan(arrival, measure=data.draw(st.sampled_from(["home_quarantine", "self_monitoring"])),
                           days=data.draw(st.integers(1, 14)), after_days=data.draw(st.integers(0, 7)),
                           test_days=[1], reason=data.draw(reasons), user=user)


def _close(arrival, user, data):
    return ops.close(arrival, data.draw(reasons), user=user)


def _extend(arrival, user, data):
    return ops.extend(arrival, data.draw(st.integers(1, ops.MAX_EXTEND_DAYS)), data.draw(reasons), user=user)


def _outcome(outcome):
    def run(arrival, user, data):
        return ops.set_outcome(arrival, outcome, user=user, reason=data.draw(reasons),
                               facility="Trung tâm Y tế Đồng Xoài")
    return run


def _resume(arrival, user, data):
    return ops.resume(arrival, data.draw(reasons), user=user)


def _transfer(arrival, user, data):
    return ops.transfer(arrival, OTHER, data.draw(reasons), user=user)


def _older_twin(arrival):
    """The same person followed since the day before (same ID number, another declaration)."""
    ArrivalFactory(status="monitoring", commune_code="25210", created_at=clock.utcnow() - timedelta(days=1),
                   declaration__id_number=arrival.declaration.id_number, declaration__dest_commune_code="25210")
    db.session.commit()


def _merge(arrival, user, data):
    twin = db.session.scalar(select(Arrival).where(Arrival.id != arrival.id, Arrival.declaration.has(
        id_number=arrival.declaration.id_number)))
    return ops.merge(twin, arrival, user=user)


SETUP = {"merge": _older_twin}  # what an action needs besides the arrival, made before counting
MONITORING_ON = (*schedule.MONITORED, "ended_unchecked")
# action: (function, states it is allowed in, the status it leads to (None: depends), audit action)
ACTIONS = {
    "confirm": (_confirm, ("expected",), "monitoring", "arrival.confirm"),
    "check": (_check, schedule.CHECKABLE, None, "health_check.add"),
    "change_plan": (_change_plan, ("expected", *schedule.MONITORED), None, "arrival.plan_change"),
    "close": (_close, MONITORING_ON, "completed", "arrival.close"),
    "extend": (_extend, MONITORING_ON, "monitoring", "arrival.extend"),
    "lost_contact": (_outcome("lost_contact"), schedule.OPEN, "lost_contact", "arrival.lost_contact"),
    "left_province": (_outcome("left_province"), schedule.OPEN, "left_province", "arrival.left_province"),
    "referred": (_outcome("referred"), schedule.OPEN, "referred", "arrival.referred"),
    "resume": (_resume, ("lost_contact",), None, "arrival.resume"),
    "transfer": (_transfer, schedule.OPEN, "transferred", "arrival.transfer"),
    "merge": (_merge, schedule.OPEN, "merged", "arrival.merge"),  # the later of two follow-ups of a person
}


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _columns(arrival):
    return {c.key: getattr(arrival, c.key) for c in Arrival.__table__.columns}


def _make(status):
    start = clock.today() - timedelta(days=2)
    arrival = ArrivalFactory(status=status, commune_code="25210", measure="self_monitoring",
                             plan_start=start, plan_end=start + timedelta(days=6), test_days=[1],
                             expected_at=clock.utcnow() - timedelta(days=2),
                             arrived_at=None if status == "expected" else clock.utcnow() - timedelta(days=2),
                             declaration__dest_commune_code="25210")
    db.session.commit()
    return arrival


def test_the_table_names_every_state():
    """A new status added to the model must be placed in this table by someone thinking about it."""
    for _name, (_fn, allowed, _to, _audit) in ACTIONS.items():
        assert set(allowed) <= set(ARRIVAL_STATUSES)
    assert len(ARRIVAL_STATUSES) == 10


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_in_every_state(app, action):
    officer = UserFactory(username="xa1", role="commune", area_codes=["25210"])
    db.session.commit()
    run, allowed, to_status, audit_action = ACTIONS[action]

    # No shrinking: a failure names its (action, status) already, and shrinking re-runs all nine
    # states many times (minutes per failure under `make mutants`).
    @settings(max_examples=3, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[Health.too_slow, Health.function_scoped_fixture])
    @given(data=st.data())
    def each_state(data):
        for status in ARRIVAL_STATUSES:
            arrival = _make(status)
            if action in SETUP:
                SETUP[action](arrival)
            before = _columns(arrival)
            totals = (_count(ArrivalEvent), _count(AuditEvent), _count(Arrival), _count(HealthCheck))
            if status not in allowed:
                if action == "confirm":
                    assert run(arrival, officer, data) is False, status
                else:
                    with pytest.raises(ops.FollowupError):
                        run(arrival, officer, data)
                db.session.flush()  # what the refused call left in the session would be written here
                assert (_count(ArrivalEvent), _count(AuditEvent), _count(Arrival), _count(HealthCheck)) == totals, \
                    (action, status)
                assert _columns(db.session.get(Arrival, arrival.id)) == before, (action, status)
                db.session.rollback()
                continue
            run(arrival, officer, data)
            db.session.commit()
            db.session.expire_all()
            after = db.session.get(Arrival, arrival.id)
            new_events = db.session.scalars(select(ArrivalEvent).where(
                ArrivalEvent.arrival_id == arrival.id).order_by(ArrivalEvent.id)).all()
            if action != "check" or status == "expected":  # a plain check is a HealthCheck, not history
                assert new_events and new_events[0].from_status == status, (action, status)
            assert _count(AuditEvent, AuditEvent.action == audit_action, AuditEvent.object_id == str(arrival.id)) == 1, \
                (action, status)
            expected = to_status
            if action == "resume":
                expected = "monitoring"  # it had arrived (arrived_at set)
            elif action in ("check", "change_plan"):
                expected = "monitoring" if status == "expected" and action == "check" else status
            assert after.status == expected, (action, status, after.status)
            if action == "check":
                assert _count(HealthCheck, HealthCheck.arrival_id == arrival.id) == 1
            if action == "change_plan":
                assert new_events[-1].action == "plan_changed" and after.plan_start == before["plan_start"]
            if action == "transfer":
                moved = db.session.scalar(select(Arrival).where(Arrival.id != arrival.id,
                                                                Arrival.declaration_id == arrival.declaration_id))
                assert moved.commune_code == OTHER and moved.status == "expected"
            if action == "merge":
                kept = db.session.scalar(select(Arrival).where(Arrival.id != arrival.id, Arrival.status != "merged",
                                                               Arrival.declaration.has(id_number=arrival.declaration.id_number)))
                assert (kept.status, kept.trip_count) == ("monitoring", 2), status
            if expected in ("completed", "lost_contact", "left_province", "referred", "transferred", "merged"):
                assert after.ended_at is not None, (action, status)
            if expected == "monitoring" and action in ("extend", "resume"):
                assert after.ended_at is None

    each_state()
