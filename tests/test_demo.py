"""The demo data never lies about time (issue 11 item 13): loaded early in the local morning,
nothing in it happened later than now in Asia/Ho_Chi_Minh, and today still has passages."""
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.demo import load_demo
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalEvent, Declaration, HealthCheck, Passage


def test_demo_loaded_at_half_past_six_has_nothing_after_it(app, monkeypatch):
    now = datetime.combine(clock.today(), time(6, 30), clock.LOCAL).astimezone(clock.utcnow().tzinfo)
    monkeypatch.setattr("kiemdich.demo.utcnow", lambda: now)  # `flask kiemdich demo` run at 06:30
    load_demo(Path(app.instance_path))
    db.session.commit()
    latest = {
        "declaration": db.session.scalar(select(func.max(Declaration.created_at))),
        "passage": db.session.scalar(select(func.max(Passage.server_ts))),
        "expected": db.session.scalar(select(func.max(Arrival.expected_at))),
        "arrived": db.session.scalar(select(func.max(Arrival.arrived_at))),
        "ended": db.session.scalar(select(func.max(Arrival.ended_at))),
        "event": db.session.scalar(select(func.max(ArrivalEvent.at))),
    }
    assert {k: v for k, v in latest.items() if v > now} == {}
    assert db.session.scalar(select(func.max(HealthCheck.check_date))) <= clock.today(now)
    start = datetime.combine(clock.today(now), time(0, 0), clock.LOCAL)
    today_passages = db.session.scalar(select(func.count()).select_from(Passage).where(
        Passage.server_ts >= start, Passage.server_ts < start + timedelta(days=1)))
    assert today_passages > 0  # "Hôm nay tại chốt" is not empty in the morning
