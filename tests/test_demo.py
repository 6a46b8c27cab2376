"""The demo data never lies about time (issue 11 item 13): loaded early in the local morning,
nothing in it happened later than now in Asia/Ho_Chi_Minh, and today still has passages."""
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.demo import load_demo
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalEvent, Declaration, HealthCheck, Passage
from tests.conftest import AuthActions


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


def test_demo_declarations_belong_to_persons_and_one_person_has_both_trips(app, client):
    """Like real declarations, the demo's are linked to their person; the demo ward's officer sees
    one person who came twice as one row ("2 chuyến") and one page with both trips."""
    from kiemdich.demo import DEMO_COMMUNE, TWO_TRIPS
    from kiemdich.models import ArrivalTrip, Person, User
    from tests.factories import PASSWORD

    load_demo(Path(app.instance_path))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Declaration).where(Declaration.person_id.is_(None))) == 0
    # One person per ID number (the random demo travellers are all different people).
    assert db.session.scalar(select(func.count(func.distinct(Declaration.id_number)))) == \
        db.session.scalar(select(func.count()).select_from(Person))
    khang = db.session.scalars(select(Declaration).where(Declaration.id_number == TWO_TRIPS["id_number"])
                               .order_by(Declaration.travel_date)).all()
    assert len(khang) == 2 and khang[0].person_id == khang[1].person_id
    followed = db.session.scalars(select(Arrival).join(Declaration, Arrival.declaration_id == Declaration.id)
                                  .where(Declaration.person_id == khang[0].person_id)).all()
    assert [(a.declaration_id, a.status, a.commune_code, a.trip_count) for a in followed] == [
        (khang[0].id, "monitoring", DEMO_COMMUNE, 2)]
    assert db.session.scalars(select(ArrivalTrip.declaration_id).where(ArrivalTrip.arrival_id == followed[0].id)
                              ).all() == [khang[1].id]

    # What the demo ward's officer sees: one row with both trips in "Đang theo dõi", one page.
    from kiemdich.accounts.operations import reset_password
    reset_password(db.session.scalar(select(User).where(User.username == "ytexa")), PASSWORD)
    db.session.commit()
    auth = AuthActions(client)
    auth.login("ytexa", PASSWORD)
    rows = client.get("/xa/ds/monitoring").get_data(as_text=True)
    page = 1
    while "Phạm Minh Khang" not in rows and "trang=%d" % (page + 1) in rows:
        page += 1
        rows = client.get(f"/xa/ds/monitoring?trang={page}").get_data(as_text=True)
    assert rows.count("Phạm Minh Khang") == 1 and "2 chuyến" in rows
    for code in (khang[0].code, khang[1].code):  # the second trip's code opens the same page
        detail = client.get(f"/xa/nguoi-den/{code}").get_data(as_text=True)
        assert "2 chuyến đi của người này" in detail and "<h1>Phạm Minh Khang</h1>" in detail
        assert khang[0].code in detail and khang[1].code in detail
