"""Writes that meet at the same moment (PostgreSQL row locks), found by bench/load.py: two
officers recording the first check of someone expected, several homes opened at once applying
the end rule, and a self check-in tapped in two tabs at once. Each test makes the two
transactions overlap for sure: the first stays open until the second has finished or waits for
its lock."""
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from kiemdich import clock
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.followup import operations as ops
from kiemdich.models import Arrival, ArrivalEvent, Checkpoint, HealthCheck, Passage, User
from tests.factories import ArrivalFactory, CheckpointFactory, DeclarationFactory


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks between concurrent writers: PostgreSQL only")


def _waiting_for_a_lock() -> bool:
    with db.engine.connect() as conn:  # a new transaction each time: a fresh view of the activity
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'")).scalar())


def overlap(app, first, second) -> dict:
    """Run `first` and keep its transaction open; run `second` in another; commit `first` once
    `second` has finished or waits for a lock. Returns their results (or errors)."""
    out, ready, release = {}, threading.Event(), threading.Event()

    def run(name, work, hold):
        with app.app_context():
            try:
                out[name] = work()
                db.session.flush()
                if hold:
                    ready.set()
                    release.wait(30)
                db.session.commit()
            except Exception as err:  # noqa: BLE001  (asserted by the caller)
                db.session.rollback()
                out[name + "_error"] = err
            finally:
                ready.set()
                db.session.remove()

    a = threading.Thread(target=run, args=("first", first, True))
    a.start()
    ready.wait(30)
    b = threading.Thread(target=run, args=("second", second, False))
    b.start()
    deadline = time.monotonic() + 30  # a bound for a hung test, not a timing assertion
    while b.is_alive() and not _waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    a.join(30)
    b.join(30)
    return out


def _events(arrival_id, **where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ArrivalEvent).where(
        ArrivalEvent.arrival_id == arrival_id, *[getattr(ArrivalEvent, k) == v for k, v in where.items()]))


def test_two_officers_checking_someone_expected_at_once_confirm_the_arrival_once(app, users):
    arrival_id = ArrivalFactory(status="expected").id
    officer_id = users["commune"].id
    db.session.commit()

    def confirm():
        return ops.confirm_arrival(db.session.get(Arrival, arrival_id), "visit", user=db.session.get(User, officer_id))

    def check():
        return ops.record_check(db.session.get(Arrival, arrival_id),
                                ops.CheckInput(temperature="36.8", present=True, source="phone"),
                                client_uuid=str(uuid.uuid4()), user=db.session.get(User, officer_id))[1]

    out = overlap(app, confirm, check)
    assert (out.get("first"), out.get("second")) == (True, True), out  # confirmed, and the check recorded
    assert _events(arrival_id, action="confirmed") == 1
    assert db.session.scalar(select(func.count()).select_from(HealthCheck)) == 1
    assert db.session.get(Arrival, arrival_id).status == "monitoring"


def test_homes_opened_at_once_apply_the_end_rule_once(app):
    today = clock.today()
    ids = [ArrivalFactory(status="monitoring", plan_start=today - timedelta(days=7),
                          plan_end=today - timedelta(days=1)).id for _ in range(3)]
    db.session.commit()

    def settle():
        return ops.settle_ended({"25210"}, today)

    out = overlap(app, settle, settle)
    assert (out.get("first"), out.get("second")) == (3, 0), out  # the second home skips what the first settles
    assert [_events(i, reason="end_rule") for i in ids] == [1, 1, 1]
    assert {db.session.get(Arrival, i).status for i in ids} == {"ended_unchecked"}


def test_a_self_check_in_tapped_in_two_tabs_at_once_is_recorded_once(app):
    checkpoint_id = CheckpointFactory().id
    with app.test_request_context():
        token = declarations.token_for(DeclarationFactory())
    db.session.commit()

    def tap():
        _passage, created = declarations.self_checkin(token, db.session.get(Checkpoint, checkpoint_id),
                                                     client_uuid=str(uuid.uuid4()))
        return created

    out = overlap(app, tap, tap)
    assert (out.get("first"), out.get("second")) == (True, False), out  # the second tab gets the first
    assert db.session.scalar(select(func.count()).select_from(Passage)) == 1
