"""Realistic demo data for Đồng Nai (75): checkpoints into the former Bình Phước area,
one account per role, and a few hundred trips in every state. Every declaration is linked to its
person as a real one is (kiemdich/persons); one person in the demo ward came back twice while
followed, so the officer's "one person, both trips" page has an example."""
import json
import random
import secrets
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from .accounts.operations import create_user
from .clock import LOCAL, today, utcnow
from . import persons
from .codes import new_code
from .extensions import db
from .models import (AdminUnit, AreaLevel, Arrival, ArrivalEvent, ArrivalTrip, Checkpoint, Declaration,
                     HealthCheck, MonitoringRule, Passage, User)
from .seeds import seed_reference_data
from .text import fold

CHECKPOINTS = [
    ("Chốt QL13 – cửa ngõ Chơn Thành", "25432", "Quốc lộ 13, giáp TP. Hồ Chí Minh (Bàu Bàng cũ)", 11.4290, 106.6150),
    ("Chốt QL14 – Đắk Nhau", "25399", "Quốc lộ 14, giáp Lâm Đồng (Đắk Nông cũ)", 11.9810, 107.2020),
    ("Chốt ĐT741 – Đồng Phú", "25363", "Đường tỉnh 741, giáp TP. Hồ Chí Minh (Phú Giáo cũ)", 11.3920, 106.8350),
]
DEMO_COMMUNE = "25210"  # Phường Đồng Xoài: the demo commune officer's ward
ORIGIN_PROVINCES = [("79", 4), ("80", 3), ("68", 2), ("66", 2), ("01", 1), ("92", 3), ("75", 1)]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương"]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Mỹ", "Kim", "Thanh"]
GIVEN_M = ["Hùng", "Dũng", "Tuấn", "Long", "Phúc", "Khang", "Bảo", "Tài", "Lộc", "Thịnh", "Sơn", "Hải"]
GIVEN_F = ["Lan", "Hương", "Trang", "Linh", "Ngọc", "Thảo", "Vy", "Hạnh", "Nhung", "Yến", "Mai", "Châu"]
STREETS = ["Tổ 3, khu phố Tân Bình", "Số 12 đường Phú Riềng Đỏ", "Ấp 4", "Thôn 2", "Số 45 Quốc lộ 14",
           "Tổ 7, ấp Thuận Phú", "Số 8 hẻm 21 Lê Duẩn", "Khu phố 2"]
VEHICLES = [("xe_may", 0.5), ("o_to", 0.2), ("xe_khach", 0.2), ("xe_tai", 0.08), ("xe_dap", 0.02)]


def _accounts_file(instance: Path) -> Path:
    return instance / "demo-accounts.json"


def _person(rng: random.Random) -> dict:
    female = rng.random() < 0.48
    name = " ".join([rng.choice(SURNAMES), rng.choice(MIDDLE_F if female else MIDDLE_M),
                     rng.choice(GIVEN_F if female else GIVEN_M)])
    year = rng.randint(1950, 2008)
    id_type = rng.choices(["cccd", "cmnd", "passport"], [0.85, 0.12, 0.03])[0]
    number = {"cccd": "0" + "".join(rng.choice("0123456789") for _ in range(11)),
              "cmnd": "".join(rng.choice("0123456789") for _ in range(9)),
              "passport": "C" + "".join(rng.choice("0123456789") for _ in range(7))}[id_type]
    phone = rng.choice(["09", "03", "07", "08"]) + "".join(rng.choice("0123456789") for _ in range(8))
    return {"full_name": name, "search_name": fold(name), "sex": "nu" if female else "nam",
            "birth_year": year, "id_type": id_type, "id_number": number, "phone": phone}


def _local_dt(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL).astimezone(utcnow().tzinfo)


def load_demo(instance: Path, force: bool = False, count: int = 300, seed: int = 2021,
              now: datetime | None = None) -> list[tuple]:
    """Create the demo once (idempotent unless force); returns (username, password, role) rows.
    Nothing in it happens after `now` (default: the current time), whatever the local hour."""
    seed_reference_data()
    path = _accounts_file(instance)
    if path.exists() and not force and db.session.scalar(select(User.id).where(User.username == "admin")):
        return [tuple(a) for a in json.loads(path.read_text())]
    rng = random.Random(seed)
    now = now or utcnow()
    home = today(now)

    checkpoints = []
    for name, commune, road, lat, lon in CHECKPOINTS:
        cp = Checkpoint(code=new_code(), name=name, commune_code=commune, road=road, lat=lat, lon=lon)
        db.session.add(cp)
        checkpoints.append(cp)
    db.session.flush()

    for code, level in ORIGIN_PROVINCES:
        db.session.add(AreaLevel(area_code=code, level=level, effective_from=home - timedelta(days=60),
                                 note="Dữ liệu mẫu"))

    accounts = [("admin", "admin", {}), ("giamsat", "supervisor", {"area_codes": ["75"]}),
                ("chot", "checkpoint", {"checkpoint_ids": [checkpoints[0].id, checkpoints[1].id]}),
                ("ytexa", "commune", {"area_codes": [DEMO_COMMUNE]})]
    names = {"admin": "Quản trị hệ thống", "giamsat": "Nguyễn Văn Giám Sát",
             "chot": "Trần Thị Tình Nguyện", "ytexa": "Lê Thị Y Tế"}
    printed, users = [], {}
    for username, role, scope in accounts:
        password = secrets.token_urlsafe(9)
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(username, password, role, full_name=names[username], **scope)
        else:
            from .accounts.operations import reset_password
            reset_password(user, password)
        users[role] = user
        printed.append((username, password, role))

    origin_communes = {
        code: db.session.scalars(select(AdminUnit.code).where(AdminUnit.parent_code == code)).all()
        for code, _lvl in ORIGIN_PROVINCES
    }
    # Destinations: mostly the former Bình Phước communes (codes 25xxx), a third to the demo ward.
    home_communes = db.session.scalars(select(AdminUnit.code).where(
        AdminUnit.parent_code == "75", AdminUnit.code < "25460")).all()
    rules = {(r.origin_level, r.vaccination): r for r in db.session.scalars(select(MonitoringRule))}
    levels = dict(ORIGIN_PROVINCES)

    for i in range(count):
        p = _person(rng)
        travel = home - timedelta(days=rng.choices(range(0, 20), [6] + [3] * 19)[0])
        origin_province = rng.choice(ORIGIN_PROVINCES[:-1])[0]
        transit = rng.random() < 0.05
        dest = rng.choice(home_communes) if rng.random() < 0.6 else DEMO_COMMUNE
        if transit:
            dest = rng.choice(origin_communes["68"])
        doses = rng.choices([0, 1, 2, 3], [0.1, 0.2, 0.5, 0.2])[0]
        symptoms = rng.sample(["sot", "ho", "dau_hong", "met_moi"], k=1) if rng.random() < 0.06 else []
        vehicle = rng.choices([v for v, _ in VEHICLES], [w for _, w in VEHICLES])[0]
        cp = rng.choice(checkpoints)
        # Today's trips were declared at least 35 minutes ago (the evening before when it is early).
        created = min(_local_dt(travel, rng.randint(5, 20), rng.randint(0, 59)),
                      now - timedelta(minutes=rng.randint(35, 240)))
        decl = Declaration(
            code=new_code(), token_id=uuid.uuid4().hex[:16], **p,
            nationality="Việt Nam", contact_commune_code=dest, contact_street=rng.choice(STREETS),
            origin_province_code=origin_province,
            origin_commune_code=rng.choice(origin_communes[origin_province]),
            origin_street=rng.choice(STREETS), dest_commune_code=dest, dest_street=rng.choice(STREETS),
            travel_date=travel, vehicle_type=vehicle,
            vehicle_plate="" if vehicle == "xe_dap" else f"{rng.choice(['93', '51', '61', '60'])}"
                                                       f"{rng.choice('ABCDEFGH')}-{rng.randint(10000, 99999)}",
            places_visited=rng.choice(["", "TP. Hồ Chí Minh", "Bình Dương cũ", "Tây Ninh"]),
            symptoms=symptoms, exposure_case=rng.random() < 0.03, vaccine_doses=doses,
            last_dose_date=(travel - timedelta(days=rng.randint(20, 200))) if doses else None,
            on_behalf=rng.random() < 0.1, consent_version="2026-01", checkpoint_id=cp.id,
            source=rng.choices(["web", "staff"], [0.85, 0.15])[0], created_at=created,
            valid_until=created + timedelta(hours=72))
        if decl.on_behalf:
            decl.on_behalf_by = "Người thân"
        persons.link(decl)
        db.session.add(decl)
        if rng.random() < 0.1 and travel >= home - timedelta(days=2):
            continue  # declared, not yet at a checkpoint
        db.session.flush()
        decision = rng.choices(["allow", "refuse", "quarantine"], [0.9, 0.04, 0.06])[0]
        vacc = "full" if doses >= 2 else "partial" if doses == 1 else "none"
        rule = rules[(levels[origin_province], vacc)]
        passed = min(created + timedelta(minutes=rng.randint(30, 300)), now - timedelta(minutes=rng.randint(1, 20)))
        passage = Passage(declaration_id=decl.id, checkpoint_id=cp.id, user_id=users["checkpoint"].id,
                          decision=decision, papers_checked=True,
                          test_taken=rng.choices(["none", "rapid", "pcr_pooled"], [0.6, 0.3, 0.1])[0],
                          instruction_code=rule.instruction_code, transit=transit,
                          client_uuid=str(uuid.uuid4()), client_ts=passed, server_ts=passed)
        db.session.add(passage)
        if decision == "refuse" or transit:
            continue
        db.session.flush()
        _demo_arrival(rng, decl, passage, rule, travel, now, users["commune"])
    _two_trips(now, checkpoints[0], users, rules[(levels["79"], "full")])
    db.session.flush()
    path.write_text(json.dumps(printed))
    path.chmod(0o600)
    return printed


def _demo_arrival(rng, decl, passage, rule, travel, now, officer) -> None:
    home = today(now)
    days = max(rule.days, 1)
    end = travel + timedelta(days=days - 1)
    arrival = Arrival(declaration_id=decl.id, passage_id=passage.id, commune_code=decl.dest_commune_code,
                      measure=rule.measure, plan_start=travel, plan_end=end,
                      test_days=rule.test_days, needs_approval=rule.needs_approval, rule_id=rule.id,
                      rule_version=rule.version, instruction_code=rule.instruction_code,
                      expected_at=passage.server_ts, created_at=passage.server_ts)
    age = (home - travel).days
    if age == 0 and rng.random() < 0.7 or (age >= 2 and rng.random() < 0.08):
        arrival.status = "expected"  # the old ones are overdue (> 24 h)
    else:
        arrival.status = ("arrived" if age == 0 and rng.random() < 0.3 else "monitoring") if end >= home else rng.choices(
            ["completed", "ended_unchecked", "lost_contact", "referred", "transferred", "left_province"],
            [0.7, 0.1, 0.06, 0.05, 0.05, 0.04])[0]
        arrival.arrived_at = min(passage.server_ts + timedelta(hours=rng.randint(1, 8)), now)
        arrival.confirmed_by_id = officer.id
        arrival.confirmed_how = rng.choice(["visit", "phone", "self"])
        if arrival.status == "referred":
            arrival.referred_facility = "Trung tâm Y tế khu vực Đồng Xoài"
        if arrival.status not in ("monitoring",):
            arrival.ended_at = min(arrival.arrived_at + timedelta(days=days), now)
    db.session.add(arrival)
    db.session.flush()
    db.session.add(ArrivalEvent(arrival_id=arrival.id, action="routed", to_status="expected",
                                at=passage.server_ts))
    if arrival.arrived_at:
        last = min(home, end) if arrival.status != "ended_unchecked" else end - timedelta(days=1)
        day = travel
        while day <= last:
            if arrival.status == "monitoring" and day == home and rng.random() < 0.5:
                break  # leave some "due today without a check"
            sick = bool(decl.symptoms) and rng.random() < 0.5
            db.session.add(HealthCheck(
                arrival_id=arrival.id, check_date=day,
                temperature=Decimal(str(round(rng.uniform(37.6, 38.5) if sick else rng.uniform(36.2, 37.2), 1))),
                symptoms=list(decl.symptoms) if sick else [], spo2=rng.randint(95, 99),
                present=True, source=rng.choice(["self", "phone", "visit"]),
                user_id=officer.id, client_uuid=str(uuid.uuid4())))
            arrival.flagged = arrival.flagged or sick
            day += timedelta(days=1)


TWO_TRIPS = {"full_name": "Phạm Minh Khang", "search_name": fold("Phạm Minh Khang"), "sex": "nam",
             "birth_year": 1987, "id_type": "cccd", "id_number": "070087004321", "phone": "0978123456"}


def _two_trips(now, cp, users, rule) -> None:
    """A trader of the demo ward: in from TP. Hồ Chí Minh four days ago, followed since, back again
    yesterday from a day's trip there. His second declaration is the same person and is linked into
    the arrival still followed (as followup.operations.add_trip does), never a second row."""
    home = today(now)
    origin = db.session.scalar(select(AdminUnit.code).where(AdminUnit.parent_code == "79").order_by(AdminUnit.code))
    decls, passages = [], []
    for days_ago in (4, 1):
        travel = home - timedelta(days=days_ago)
        created = min(_local_dt(travel, 6, 15), now - timedelta(hours=2))
        decl = Declaration(
            code=new_code(), token_id=uuid.uuid4().hex[:16], **TWO_TRIPS, nationality="Việt Nam",
            contact_commune_code=DEMO_COMMUNE, contact_street="Số 12 đường Phú Riềng Đỏ",
            origin_province_code="79", origin_commune_code=origin, origin_street="Chợ Bình Tây",
            dest_commune_code=DEMO_COMMUNE, dest_street="Số 12 đường Phú Riềng Đỏ", travel_date=travel,
            vehicle_type="xe_tai", vehicle_plate="93C-24680", places_visited="TP. Hồ Chí Minh", symptoms=[],
            exposure_case=False, vaccine_doses=3, last_dose_date=travel - timedelta(days=150), on_behalf=False,
            consent_version="2026-01", checkpoint_id=cp.id, source="web", created_at=created,
            valid_until=created + timedelta(hours=72))
        persons.link(decl)
        db.session.add(decl)
        db.session.flush()
        passed = min(created + timedelta(hours=1), now - timedelta(minutes=30))
        passage = Passage(declaration_id=decl.id, checkpoint_id=cp.id, user_id=users["checkpoint"].id,
                          decision="allow", papers_checked=True, test_taken="none",
                          instruction_code=rule.instruction_code, transit=False, client_uuid=str(uuid.uuid4()),
                          client_ts=passed, server_ts=passed)
        db.session.add(passage)
        db.session.flush()
        decls.append(decl)
        passages.append(passage)
    first, again = decls
    start = first.travel_date
    arrival = Arrival(declaration_id=first.id, passage_id=passages[0].id, commune_code=DEMO_COMMUNE,
                      measure=rule.measure, plan_start=start, plan_end=start + timedelta(days=max(rule.days, 7) - 1),
                      test_days=rule.test_days, needs_approval=rule.needs_approval, rule_id=rule.id,
                      rule_version=rule.version, instruction_code=rule.instruction_code, status="monitoring",
                      expected_at=passages[0].server_ts, created_at=passages[0].server_ts,
                      arrived_at=passages[0].server_ts + timedelta(hours=3), confirmed_by_id=users["commune"].id,
                      confirmed_how="visit", trip_count=2)
    db.session.add(arrival)
    db.session.flush()
    db.session.add(ArrivalEvent(arrival_id=arrival.id, action="routed", to_status="expected",
                                at=passages[0].server_ts))
    db.session.add(ArrivalTrip(arrival_id=arrival.id, declaration_id=again.id, passage_id=passages[1].id,
                               commune_code=DEMO_COMMUNE, created_at=passages[1].server_ts))
    db.session.add(ArrivalEvent(arrival_id=arrival.id, action="trip_linked", at=passages[1].server_ts,
                                from_status="monitoring", to_status="monitoring",
                                data={"declaration": again.code, "commune": DEMO_COMMUNE, "other_commune": False}))
    for day in range((again.travel_date - start).days):
        db.session.add(HealthCheck(arrival_id=arrival.id, check_date=start + timedelta(days=day),
                                   temperature=Decimal("36.6"), symptoms=[], spo2=98, present=True, source="phone",
                                   user_id=users["commune"].id, client_uuid=str(uuid.uuid4())))
