"""State changes of follow-up: plain functions, no request parsing.

Every change writes an ArrivalEvent (the history shown on the page); changes made by an officer
also write an AuditEvent (who, from where), scoped to the commune.
"""
import json
import math
import uuid as uuidlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from .. import audit, clock, persons
from ..extensions import db
from ..models import AdminUnit, Arrival, ArrivalEvent, ArrivalTrip, HealthCheck, Setting
from ..models.followup import CHECK_SOURCES, MEASURES, TEST_RESULTS
from ..models.travel import SYMPTOMS
from ..notify.tasks import red_flagged
from ..rules.plan import Plan, plan_for_declaration
from . import lists, schedule


def in_home_province(commune_code: str | None) -> bool:
    """True when the commune lies in the deployment's province (else the trip is transit)."""
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
    A trip of a person whose arrival is still open is linked into that arrival (add_trip): one
    person, one follow-up, one row in the commune's lists.
    """
    commune_code = commune_code or declaration.dest_commune_code
    if not in_home_province(commune_code):
        return None
    at = at or clock.utcnow()
    if declaration.person_id is not None:  # linked when created (form, khai hộ, import, migration)
        persons.lock(declaration.person_id)
        current = persons.open_arrival(declaration.person_id)
        if current is not None:
            return add_trip(current, declaration, passage=passage, commune_code=commune_code, user=user, at=at)
    plan = plan or plan_for_declaration(declaration, clock.today(at))
    arrival = Arrival(declaration=declaration, passage=passage,
                      commune_code=commune_code, status="expected", expected_at=at, created_at=at)
    apply_plan(arrival, plan)
    db.session.add(arrival)
    db.session.add(ArrivalEvent(arrival=arrival, at=at, user_id=getattr(user, "id", None), action="routed",
                                to_status="expected",
                                data={"rule_version": plan.rule_version}))
    signs = border_signs(declaration, passage)
    if signs is not None:
        arrival.flagged = True
        red_flagged(arrival)  # the commune's officers get a push once this is committed
        db.session.add(ArrivalEvent(arrival=arrival, at=at, user_id=getattr(user, "id", None), action="flagged",
                                    from_status="expected", to_status="expected", reason=BORDER_REASON,
                                    data=signs))
    return arrival


def add_trip(arrival: Arrival, declaration, *, passage=None, commune_code: str | None = None, user=None,
             at=None) -> Arrival:
    """Link another trip of the same person into their open arrival: the officer sees one person
    with both trips (its history says so, and when the trip was going to another commune). The
    plan is not changed silently; symptoms declared for the new trip make the arrival red."""
    lock_arrival(arrival)
    at = at or clock.utcnow()
    db.session.add(ArrivalTrip(arrival_id=arrival.id, declaration_id=declaration.id,
                               passage_id=getattr(passage, "id", None), commune_code=commune_code, created_at=at))
    arrival.trip_count = (arrival.trip_count or 1) + 1
    _event(arrival, "trip_linked", user=user, at=at,
           data={"declaration": declaration.code, "commune": commune_code,
                 "other_commune": bool(commune_code and commune_code != arrival.commune_code)})
    signs = border_signs(declaration, passage)
    if signs is not None and not arrival.flagged:
        arrival.flagged = True
        _event(arrival, "flagged", user=user, at=at, reason=BORDER_REASON, data=signs)
    return arrival


BORDER_REASON = "border_symptoms"  # shown as "khai báo triệu chứng khi vào tỉnh" (followup/_labels.html)


def border_signs(declaration, passage=None) -> dict | None:
    """What was declared or found on entering the province that makes the arrival red (the same
    rule as a daily check, schedule.is_red), or None. The passage counts when it records symptoms
    or a test result; today only the declaration form asks for symptoms, and the verdict card may
    record them on the passage too (issue 11), hence the getattr."""
    symptoms = list(dict.fromkeys([*(declaration.symptoms or []), *(getattr(passage, "symptoms", None) or [])]))
    result = getattr(passage, "test_result", "") or ""
    if not schedule.is_red(symptoms, None, None, result):
        return None
    return {"symptoms": symptoms, "test_result": result, "source": "border"}


# Follow-up by the commune ---------------------------------------------------------------------

OUTCOMES = ("lost_contact", "left_province", "referred")
MAX_EXTEND_DAYS = 21
MAX_PLAN_DAYS = 60


class FollowupError(ValueError):
    """A change refused with a message for the user (nothing was written)."""

    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message = message
        self.field = field


class ReplayConflict(FollowupError):
    """The same client UUID was sent before with different content."""


def _event(arrival: Arrival, action: str, *, user=None, at=None, reason: str = "", data=None,
           to_status: str | None = None) -> ArrivalEvent:
    event = ArrivalEvent(arrival=arrival, at=at or clock.utcnow(), user_id=getattr(user, "id", None),
                         action=action, from_status=arrival.status, to_status=to_status or arrival.status,
                         reason=reason, data=data or {})
    db.session.add(event)
    return event


def _audit(action: str, arrival: Arrival, user, *, before=None, after=None, detail: str = "") -> None:
    if user is not None:
        audit.record(action, arrival, before=before, after=after, detail=detail,
                     area_code=arrival.commune_code, user=user)


def _set_status(arrival: Arrival, status: str, action: str, *, user=None, at=None, reason: str = "",
                data=None) -> ArrivalEvent:
    event = _event(arrival, action, user=user, at=at, reason=reason, data=data, to_status=status)
    arrival.status = status
    return event


def _reason(reason: str | None, required: bool = True) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise FollowupError(_l("Give a reason."), "reason")
    return reason[:500]


def last_day(arrival: Arrival) -> date | None:
    return schedule.last_day(arrival.plan_start, arrival.plan_end, arrival.self_monitoring_until)


def has_check_on(arrival: Arrival, day: date | None) -> bool:
    if day is None or arrival.id is None:
        return False
    return db.session.scalar(select(HealthCheck.id).where(
        HealthCheck.arrival_id == arrival.id, HealthCheck.check_date == day).limit(1)) is not None


def lock_arrival(arrival: Arrival) -> None:
    """Wait for any other transaction changing this arrival, then read it again (a row lock on
    PostgreSQL; SQLite has one writer at a time anyway). Two officers, or an officer and the
    returnee, acting at the same moment are then taken one after the other: without it both saw
    "expected" and the arrival was confirmed twice (found by bench/load.py)."""
    if arrival.id is not None and not db.session.is_modified(arrival) and not _locked(arrival):
        # Not session.refresh(): it repeats the eager joins the arrival was loaded with (its passage,
        # an outer join), and PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
        db.session.scalar(select(Arrival).where(Arrival.id == arrival.id).with_for_update(of=Arrival)
                          .execution_options(populate_existing=True))  # fetched: the row refreshes the instance


def mark_locked(arrival: Arrival) -> None:
    """The caller read `arrival` with its row lock (SELECT ... FOR UPDATE) in this transaction:
    lock_arrival need not read it again."""
    db.session.info["kiemdich_locked"] = (db.session().get_transaction(), arrival.id)


def _locked(arrival: Arrival) -> bool:
    transaction, arrival_id = db.session.info.get("kiemdich_locked", (None, None))
    return transaction is not None and transaction is db.session().get_transaction() and arrival_id == arrival.id


def confirm_arrival(arrival: Arrival, how: str, *, user=None, at: datetime | None = None,
                    near: bool | None = None) -> bool:
    """Record that the person has arrived (visit, phone or self); False if it already was.

    Confirming twice is the same confirmation (an offline replay, a double tap). A plan that asks
    for nothing but the health declaration completes at once.
    """
    if how not in CHECK_SOURCES:
        raise FollowupError(_l("Choose how the arrival was confirmed."), "how")
    lock_arrival(arrival)
    if arrival.status != "expected":
        return False
    now = clock.utcnow()
    at = min(at or now, now)
    arrival.arrived_at = at
    arrival.confirmed_by_id = getattr(user, "id", None)
    arrival.confirmed_how = how
    arrival.near_declared_commune = near
    monitored = arrival.measure != "declaration_only"
    _set_status(arrival, "monitoring" if monitored else "completed", "confirmed", user=user, at=now,
                data={"how": how, "near": near})
    if not monitored:
        arrival.ended_at = now
        _event(arrival, "completed", user=user, at=now, reason="declaration_only")
    _audit("arrival.confirm", arrival, user, after={"how": how, "status": arrival.status})
    return True


@dataclass
class CheckInput:
    """A daily check as typed; validated by validate_check."""

    temperature: object = None
    symptoms: tuple = ()
    spo2: object = None
    present: bool | None = None
    test_result: str = ""
    test_kind: str = ""
    note: str = ""
    source: str = "visit"


def validate_check(values: CheckInput) -> dict:
    """Clean values for a HealthCheck; FollowupError names the first bad field."""
    try:
        temperature = schedule.parse_temperature(values.temperature)
    except ValueError:
        raise FollowupError(_l("Temperature must be between 34 and 43 °C, e.g. 36.8."), "temperature") from None
    spo2 = None
    if str(values.spo2 or "").strip():
        try:
            spo2 = int(str(values.spo2).strip().rstrip("%"))
        except ValueError:
            spo2 = -1
        if not 50 <= spo2 <= 100:
            raise FollowupError(_l("SpO2 must be a percentage between 50 and 100."), "spo2")
    symptoms = sorted({s for s in values.symptoms or () if s in SYMPTOMS})
    if values.source not in CHECK_SOURCES:
        raise FollowupError(_l("Choose how the check was done."), "source")
    if values.test_result not in TEST_RESULTS:
        raise FollowupError(_l("Choose a test result."), "test_result")
    test_kind = values.test_kind if values.test_kind in ("rapid", "pcr") and values.test_result else ""
    return {"temperature": temperature, "symptoms": symptoms, "spo2": spo2, "present": values.present,
            "test_result": values.test_result, "test_kind": test_kind,
            "note": (values.note or "").strip()[:1000], "source": values.source}


def clean_uuid(raw: str | None) -> str:
    """A client UUID in canonical form; a fresh one when the client sent none (plain form post)."""
    try:
        return str(uuidlib.UUID(str(raw))) if raw else str(uuidlib.uuid4())
    except ValueError:
        raise FollowupError(_l("The form is damaged. Reload the page and try again."), "client_uuid") from None


def check_date_for(client_ts: datetime | None, *, now: datetime, max_age: timedelta) -> date:
    """The local date a check was made on: the device's time when it is plausible (an offline
    check replayed after midnight still counts for the day it was made), else the server's."""
    if client_ts is None or client_ts > now + timedelta(minutes=5) or client_ts < now - max_age:
        return clock.today(now)
    return clock.today(client_ts)


def _same_check(check: HealthCheck, arrival: Arrival, clean: dict) -> bool:
    return (check.arrival_id == arrival.id and check.temperature == clean["temperature"]
            and sorted(check.symptoms or []) == clean["symptoms"] and check.spo2 == clean["spo2"]
            and check.present == clean["present"] and check.test_result == clean["test_result"]
            and check.source == clean["source"] and (check.note or "") == clean["note"])


def record_check(arrival: Arrival, values: CheckInput, *, client_uuid: str | None, user=None,
                 client_ts: datetime | None = None, max_age: timedelta = timedelta(days=7)
                 ) -> tuple[HealthCheck, bool]:
    """Append a daily health check; returns (check, created).

    The client UUID makes replays harmless: the same UUID with the same content gives back the
    first check, with different content it is refused. A check on an expected arrival confirms
    the arrival too; a red check flags the arrival; the last day's check completes the monitoring.
    """
    clean = validate_check(values)
    client_uuid = clean_uuid(client_uuid)
    lock_arrival(arrival)

    def replay() -> tuple[HealthCheck, bool] | None:
        existing = db.session.scalar(select(HealthCheck).where(HealthCheck.client_uuid == client_uuid))
        if existing is not None and not _same_check(existing, arrival, clean):
            raise ReplayConflict(_l("This check was already sent with different content."), "client_uuid")
        return (existing, False) if existing is not None else None

    if arrival.status not in schedule.CHECKABLE:
        answer = replay()  # a replay is answered even after the check it carried ended the follow-up
        if answer is not None:
            return answer
        raise FollowupError(_l("The follow-up of this person has ended; no check can be added."))
    now = clock.utcnow()
    # INSERT, or nothing when the UUID is stored already (a replay, or a concurrent copy): one
    # statement instead of a look-up, a savepoint, the insert and its release.
    insert = postgresql.insert if db.session.get_bind(HealthCheck).dialect.name == "postgresql" else sqlite.insert
    check = db.session.scalar(insert(HealthCheck).values(
        arrival_id=arrival.id, check_date=check_date_for(client_ts, now=now, max_age=max_age),
        client_uuid=client_uuid, user_id=getattr(user, "id", None), created_at=now, **clean)
        .on_conflict_do_nothing(index_elements=["client_uuid"]).returning(HealthCheck))
    if check is None:
        answer = replay()
        if answer is None:
            raise ReplayConflict(_l("This check was already sent with different content."), "client_uuid")
        return answer
    if arrival.status == "expected" and clean["present"] is not False:
        confirm_arrival(arrival, clean["source"], user=user, at=client_ts)
    _apply_flag(arrival, check, user)
    if check.check_date == last_day(arrival) and arrival.status in (*schedule.MONITORED, "ended_unchecked"):
        arrival.ended_at = now
        _set_status(arrival, "completed", "completed", user=user, at=now, reason="last_day_checked",
                    data={"check_date": check.check_date.isoformat()})
    _audit("health_check.add", arrival, user, after={"check": check.id, "red": arrival.flagged})
    return check, True


def _apply_flag(arrival: Arrival, check: HealthCheck, user) -> None:
    """Red on any sign; back to normal only on a normal check by an officer, never on a self-report."""
    red = schedule.is_red(check.symptoms, check.temperature, check.spo2, check.test_result)
    if red and not arrival.flagged:
        arrival.flagged = True
        red_flagged(arrival)  # the commune's officers get a push once this is committed
        _event(arrival, "flagged", user=user, data={"check_id": check.id, "symptoms": check.symptoms,
                                                    "temperature": str(check.temperature or ""),
                                                    "spo2": check.spo2})
    elif not red and arrival.flagged and check.source != "self":
        arrival.flagged = False
        _event(arrival, "unflagged", user=user, data={"check_id": check.id})


def _plan_fields(arrival: Arrival) -> dict:
    return {"measure": arrival.measure, "start": _iso(arrival.plan_start), "end": _iso(arrival.plan_end),
            "self_monitoring_until": _iso(arrival.self_monitoring_until), "test_days": list(arrival.test_days or [])}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def change_plan(arrival: Arrival, *, measure: str, days: int, after_days: int, test_days: list[int],
                reason: str, user) -> None:
    """An officer changes the plan (measure, length, self-monitoring after, test days) with a reason."""
    lock_arrival(arrival)  # the state checked below is the state written
    reason = _reason(reason)
    if arrival.status not in ("expected", *schedule.MONITORED):
        raise FollowupError(_l("The plan can only be changed while the follow-up is under way."))
    if measure not in MEASURES:
        raise FollowupError(_l("Choose a measure."), "measure")
    if measure == "declaration_only":
        days, after_days, test_days = 0, 0, []
    elif not 1 <= days <= MAX_PLAN_DAYS:
        raise FollowupError(_l("Days must be between 1 and %(max)s.", max=MAX_PLAN_DAYS), "days")
    if not 0 <= after_days <= MAX_PLAN_DAYS:
        raise FollowupError(_l("Days must be between 0 and %(max)s.", max=MAX_PLAN_DAYS), "after_days")
    total = max(days, 1) + after_days
    if any(not 1 <= d <= total for d in test_days):
        raise FollowupError(_l("Test days must lie within the %(n)s days of follow-up.", n=total), "test_days")
    before = _plan_fields(arrival)
    start = arrival.plan_start or clock.today()
    arrival.measure = measure
    arrival.plan_start = start
    arrival.plan_end = start + timedelta(days=max(days, 1) - 1)
    arrival.self_monitoring_until = arrival.plan_end + timedelta(days=after_days) if after_days else None
    arrival.test_days = sorted(set(test_days))
    after = _plan_fields(arrival)
    _event(arrival, "plan_changed", user=user, reason=reason, data={"before": before, "after": after})
    _audit("arrival.plan_change", arrival, user, before=before, after=after, detail=reason)


def close(arrival: Arrival, reason: str, *, user) -> None:
    """End the monitoring now (typically after "ended without final check"), with a reason."""
    lock_arrival(arrival)  # the state checked below is the state written
    reason = _reason(reason)
    if arrival.status not in (*schedule.MONITORED, "ended_unchecked"):
        raise FollowupError(_l("Only a follow-up under way can be closed."))
    before = arrival.status
    arrival.ended_at = clock.utcnow()
    _set_status(arrival, "completed", "closed", user=user, reason=reason)
    _audit("arrival.close", arrival, user, before={"status": before}, after={"status": "completed"}, detail=reason)


def extend(arrival: Arrival, days: int, reason: str, *, user, today: date | None = None) -> date:
    """Add `days` days of monitoring, counted from today when the last day is already over; returns
    the new last day. Never done without an officer and a reason."""
    lock_arrival(arrival)  # the state checked below is the state written
    reason = _reason(reason)
    if arrival.status not in (*schedule.MONITORED, "ended_unchecked"):
        raise FollowupError(_l("Only a follow-up under way can be extended."))
    if not 1 <= days <= MAX_EXTEND_DAYS:
        raise FollowupError(_l("Days must be between 1 and %(max)s.", max=MAX_EXTEND_DAYS), "days")
    today = today or clock.today()
    old = last_day(arrival) or today
    new = max(old, today - timedelta(days=1)) + timedelta(days=days)
    if arrival.self_monitoring_until:
        arrival.self_monitoring_until = new
    else:
        arrival.plan_end = new
    before = arrival.status
    arrival.ended_at = None
    _set_status(arrival, "monitoring", "extended", user=user, reason=reason,
                data={"from": old.isoformat(), "to": new.isoformat(), "days": days})
    _audit("arrival.extend", arrival, user, before={"status": before, "last_day": old.isoformat()},
           after={"status": "monitoring", "last_day": new.isoformat()}, detail=reason)
    return new


def set_outcome(arrival: Arrival, outcome: str, *, user, reason: str = "", facility: str = "") -> None:
    """Lost contact, left the province, or referred to a health facility (named)."""
    lock_arrival(arrival)  # the state checked below is the state written
    if outcome not in OUTCOMES:
        raise FollowupError(_l("Unknown action."))
    if arrival.status not in schedule.OPEN:
        raise FollowupError(_l("The follow-up of this person has already ended."))
    reason = _reason(reason, required=False)
    data = {}
    if outcome == "referred":
        facility = (facility or "").strip()[:160]
        if not facility:
            raise FollowupError(_l("Enter the name of the health facility."), "facility")
        arrival.referred_facility = facility
        data["facility"] = facility
    before = arrival.status
    arrival.ended_at = clock.utcnow()
    _set_status(arrival, outcome, outcome, user=user, reason=reason, data=data)
    _audit(f"arrival.{outcome}", arrival, user, before={"status": before}, after={"status": outcome, **data},
           detail=reason)


def resume(arrival: Arrival, reason: str, *, user) -> None:
    """Back in touch after "lost contact": the follow-up goes on where it was."""
    lock_arrival(arrival)  # the state checked below is the state written
    reason = _reason(reason)
    if arrival.status != "lost_contact":
        raise FollowupError(_l("Only a person marked as lost contact can be resumed."))
    status = "monitoring" if arrival.arrived_at else "expected"
    arrival.ended_at = None
    _set_status(arrival, status, "resumed", user=user, reason=reason)
    _audit("arrival.resume", arrival, user, before={"status": "lost_contact"}, after={"status": status},
           detail=reason)


def transfer(arrival: Arrival, to_code: str, reason: str, *, user) -> Arrival:
    """Hand the follow-up to another commune of the province: this one ends as "transferred" and
    the other commune gets it as expected, with the same plan, the flag and a link to this history."""
    lock_arrival(arrival)  # the state checked below is the state written
    reason = _reason(reason)
    if arrival.status not in schedule.OPEN:
        raise FollowupError(_l("The follow-up of this person has already ended."))
    if not to_code or to_code == arrival.commune_code or not in_home_province(to_code):
        raise FollowupError(_l("Choose another commune of the province."), "to")
    now = clock.utcnow()
    new = Arrival(declaration_id=arrival.declaration_id, passage_id=arrival.passage_id, commune_code=to_code,
                  status="expected", measure=arrival.measure, plan_start=arrival.plan_start,
                  plan_end=arrival.plan_end, self_monitoring_until=arrival.self_monitoring_until,
                  test_days=list(arrival.test_days or []), needs_approval=arrival.needs_approval,
                  rule_id=arrival.rule_id, rule_version=arrival.rule_version,
                  instruction_code=arrival.instruction_code, flagged=arrival.flagged,
                  trip_count=arrival.trip_count, expected_at=now, created_at=now)
    db.session.add(new)
    db.session.flush()
    before = arrival.status
    arrival.ended_at = now
    _set_status(arrival, "transferred", "transferred_out", user=user, at=now, reason=reason,
                data={"to": to_code, "arrival_id": new.id})
    _event(new, "transferred_in", user=user, at=now, reason=reason,
           data={"from": arrival.commune_code, "arrival_id": arrival.id}, to_status="expected")
    _audit("arrival.transfer", arrival, user, before={"status": before, "commune": arrival.commune_code},
           after={"status": "transferred", "commune": to_code, "arrival_id": new.id}, detail=reason)
    return new


def settle_ended(codes, today: date | None = None) -> int:
    """Apply the end rule to the arrivals whose last day is over: completed if that day's check
    exists, else "ended without final check". Runs on the commune home and from the CLI."""
    today = today or clock.today()
    if not codes:
        return 0
    changed = 0
    # Every officer's home applies the rule on opening, and the morning after they all open it at
    # once: rows another request is settling are skipped (it settles them), else each end was
    # recorded once per home opened (found by bench/load.py). Locked in id order: no deadlock.
    stmt = lists.unsettled(codes, today).order_by(Arrival.id).with_for_update(of=Arrival, skip_locked=True)
    for arrival in db.session.scalars(stmt):
        outcome = schedule.end_outcome(arrival.status, last_day(arrival), today,
                                       has_check_on(arrival, last_day(arrival)))
        if outcome is None:
            continue
        if outcome == "completed":
            arrival.ended_at = clock.utcnow()
        _set_status(arrival, outcome, outcome, reason="end_rule",
                    data={"last_day": last_day(arrival).isoformat()})
        changed += 1
    return changed


# The commune health station: phone shown to returnees, and a reference point for "near" ---------

STATION_KEY = "station:{}"


@dataclass(frozen=True)
class Station:
    phone: str = ""
    lat: float | None = None
    lon: float | None = None


def station(code: str | None) -> Station:
    """What the commune's officers set for their health station (Setting "station:<code>")."""
    return station_from(db.session.get(Setting, STATION_KEY.format(code)) if code else None)


def station_from(row: Setting | None) -> Station:
    """The Station a stored Setting row describes (none: nothing set)."""
    if row is None:
        return Station()
    try:
        data = json.loads(row.value)
        return Station(phone=str(data.get("phone") or ""), lat=data.get("lat"), lon=data.get("lon"))
    except (ValueError, AttributeError):
        return Station()


def set_station(code: str, *, phone: str, lat: float | None, lon: float | None, user) -> Station:
    """Save the station's phone and, optionally, its position (taken by the officer's phone there)."""
    phone = " ".join((phone or "").split())[:20]
    if phone and not all(c.isdigit() or c in " .+-()" for c in phone):
        raise FollowupError(_l("Enter a phone number (digits only)."), "phone")
    if (lat is None) != (lon is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise FollowupError(_l("The position is not valid."), "lat")
    old = station(code)
    value = json.dumps({"phone": phone, "lat": lat, "lon": lon})
    row = db.session.get(Setting, STATION_KEY.format(code))
    if row is None:
        db.session.add(Setting(key=STATION_KEY.format(code), value=value))
    else:
        row.value = value
    audit.record("station.update", object_type="AdminUnit", object_id=code, area_code=code, user=user,
                 before={"phone": old.phone, "located": old.lat is not None},
                 after={"phone": phone, "located": lat is not None})
    return Station(phone, lat, lon)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def near_commune(code: str | None, lat: float | None, lon: float | None) -> bool | None:
    """Is a position near the commune? Judged against the health station's saved position within
    KIEMDICH_NEAR_KM; None when either position is unknown. The position itself is never stored."""
    if lat is None or lon is None:
        return None
    point = station(code)
    if point.lat is None or point.lon is None:
        return None
    return distance_km(lat, lon, point.lat, point.lon) <= current_app.config["KIEMDICH_NEAR_KM"]


def commune_in_province(code: str) -> AdminUnit | None:
    unit = db.session.get(AdminUnit, code) if code else None
    return unit if unit is not None and in_home_province(code) else None


# Two follow-ups of the same person (made before the person table, or by two commune officers) ----

def same_person(a: Arrival, b: Arrival) -> bool:
    """The two arrivals follow the same traveller: the same person row, or the same ID number."""
    da, db_ = a.declaration, b.declaration
    return ((da.person_id is not None and da.person_id == db_.person_id)
            or bool(da.id_number and da.id_number.strip() and da.id_number.strip() == (db_.id_number or "").strip()))


def merge(first: Arrival, second: Arrival, *, user) -> bool:
    """Fold the later of two open follow-ups of the same person into the earlier one: the person
    becomes one row with every trip. The later one ends as "merged" and keeps its checks and
    history (shown on the kept one's page); the kept one takes its trips, its red flag and its
    confirmation when it had none. Audited. Idempotent: merging again returns False."""
    if first.id == second.id:  # a replay from the merged one's address: it opens the kept one now
        return False
    if (second.created_at, second.id) < (first.created_at, first.id):
        first, second = second, first
    for a in sorted((first, second), key=lambda x: x.id):  # one lock order: no deadlock
        lock_arrival(a)
    if not same_person(first, second):
        raise FollowupError(_l("These are not the same person."))
    if second.status == "merged" and any(e.action == "merged_into" and (e.data or {}).get("arrival_id") == first.id
                                         for e in second.events):
        return False
    if first.status not in schedule.OPEN or second.status not in schedule.OPEN:
        raise FollowupError(_l("The follow-up of this person has already ended."))
    now = clock.utcnow()
    before = {"status": second.status, "kept_status": first.status, "kept_trip_count": first.trip_count,
              "kept_flagged": first.flagged}
    # The later follow-up's trips (its own and those linked into it) are trips of the kept one.
    for trip in db.session.scalars(select(ArrivalTrip).where(ArrivalTrip.arrival_id == second.id)):
        trip.arrival_id = first.id
    db.session.add(ArrivalTrip(arrival_id=first.id, declaration_id=second.declaration_id,
                               passage_id=second.passage_id, commune_code=second.commune_code,
                               created_at=second.created_at))
    first.trip_count = (first.trip_count or 1) + (second.trip_count or 1)
    if first.status == "expected" and second.status in schedule.MONITORED:
        first.arrived_at, first.confirmed_by_id = second.arrived_at, second.confirmed_by_id
        first.confirmed_how, first.near_declared_commune = second.confirmed_how, second.near_declared_commune
        _set_status(first, "monitoring", "confirmed", user=user, at=now, data={"from_merge": second.declaration.code})
    if second.flagged and not first.flagged:
        first.flagged = True
        _event(first, "flagged", user=user, at=now, data={"from_merge": second.declaration.code})
    _event(first, "merged_from", user=user, at=now,
           data={"declaration": second.declaration.code, "arrival_id": second.id})
    second.ended_at = now
    _set_status(second, "merged", "merged_into", user=user, at=now,
                data={"declaration": first.declaration.code, "arrival_id": first.id})
    # Audited on the follow-up that ended (the status change), naming the one kept.
    _audit("arrival.merge", second, user, before=before,
           after={"status": "merged", "into_arrival_id": first.id, "into_declaration": first.declaration.code,
                  "kept_status": first.status, "kept_trip_count": first.trip_count, "kept_flagged": first.flagged})
    return True
