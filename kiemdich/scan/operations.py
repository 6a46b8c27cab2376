"""Checkpoint work as plain functions: what a scan shows, and the passage write.

The passage write is idempotent on the client's UUID (Passage.client_uuid is unique): the same
UUID with the same content gives back the first passage, with other content it is refused.
A declaration already decided at a checkpoint is not decided twice there: the first decision
is given back ("đã xác nhận lúc HH:MM"). The arrival is routed in the same transaction.
"""
import uuid as uuidlib
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, joinedload, raiseload

from .. import audit, clock, persons, tokens
from ..codes import clean_code
from ..extensions import db
from ..followup.operations import in_home_province, route_arrival
from ..models import Checkpoint, Declaration, Instruction, Passage, Person, UserCheckpoint
from ..models.travel import CHECKPOINT_TESTS, DECISIONS
from ..rules.plan import Plan, origin_level, plan_for_declaration, vaccination_status
from ..accounts.scope import can_see_checkpoint
from ..text import normalise_phone

MAX_CLIENT_AGE = timedelta(days=7)  # an offline passage replayed later keeps the time it was made
MAX_CLIENT_AHEAD = timedelta(minutes=5)  # phone clocks run a little fast


class PassageError(ValueError):
    """A passage refused with a message for the staff member; nothing was written."""

    def __init__(self, message, status: int = 422, reason: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.status = status
        self.reason = reason


REFUSALS = {
    "malformed": _l("This is not a personal QR code of this system."),
    "signature": _l("Forged or foreign QR code: the signature does not match."),
    "expired": _l("The QR code has expired for passing a checkpoint."),
    "unknown": _l("No declaration matches this code."),
    "poster": _l("This is a checkpoint poster's code, not a traveller's personal QR."),
}


@dataclass(frozen=True)
class PassageInput:
    """What the staff member chose on the verdict card."""

    decision: str
    test_taken: str = "none"
    papers_checked: bool = False
    instruction_code: int | None = None  # only when the staff member overrides the computed one
    override_reason: str = ""
    note: str = ""
    allow_reason: str = ""  # letting through someone the rules send to centralised quarantine
    shown: str = ""  # the stance the card showed ("allow", "conditions", "quarantine", "unknown"; "" = no card)


# Finding the declaration ------------------------------------------------------------------------

def moment(client_ts: datetime | None, now: datetime) -> datetime:
    """When the passage happened: the device's time when plausible (offline replays), else now."""
    if client_ts is None or client_ts > now + MAX_CLIENT_AHEAD or client_ts < now - MAX_CLIENT_AGE:
        return now
    return min(client_ts, now)


def _names(decl: Declaration, token: str, code: str) -> bool:
    """Does this token (signature checked, not its expiry) or code name this declaration?"""
    if token:
        try:
            return tokens.verify(token, check_expiry=False).token_id == decl.token_id
        except tokens.TokenError:
            return False
    return bool(code) and clean_code(code)[:16] == decl.code


def resolve(*, token: str = "", code: str = "", at: datetime, client_uuid: str | None = None) -> Declaration:
    """The declaration a scanned token (verified, valid at `at`) or a declaration code names.

    A replay of a recorded passage (same UUID, same declaration) is answered even when the code
    has expired or the declaration was de-identified since: its validity was checked the first time.
    """
    existing = db.session.scalar(select(Passage).where(Passage.client_uuid == client_uuid)) if client_uuid else None
    if existing is not None and _names(existing.declaration, token, code):
        return existing.declaration
    if token:
        try:
            data = tokens.verify(token, now=at)
        except tokens.TokenError as err:
            raise PassageError(REFUSALS[err.reason], reason=err.reason) from None
        decl = db.session.scalar(select(Declaration).where(Declaration.token_id == data.token_id))
    else:
        decl = db.session.scalar(select(Declaration).where(Declaration.code == clean_code(code)[:16])) \
            if code else None
    if decl is None or decl.deidentified_at is not None:
        raise PassageError(REFUSALS["unknown"], reason="unknown")
    if at > decl.valid_until:
        raise PassageError(REFUSALS["expired"], reason="expired")
    return decl


def scoped_checkpoint(code: str, user) -> tuple[Checkpoint | None, bool]:
    """(the checkpoint a form names, may this user record passages there?) in one query for
    checkpoint staff (their assignment is checked in SQL instead of loading all of them)."""
    code = (code or "").strip().upper()
    if getattr(user, "role", None) != "checkpoint":
        cp = db.session.scalar(select(Checkpoint).where(Checkpoint.code == code))
        return cp, cp is not None and can_see_checkpoint(user, cp)
    row = db.session.execute(_assigned_checkpoint(), {"code": code, "user_id": user.id}).first()
    return (row[0], bool(row[1])) if row else (None, False)


# The passage write's statements are built once: building a statement costs about as much as
# sending it (ORM coercions and its cache key), and the write sends several.

@cache
def _assigned_checkpoint():
    assigned = exists().where(UserCheckpoint.user_id == bindparam("user_id"),
                              UserCheckpoint.checkpoint_id == Checkpoint.id)
    return (select(Checkpoint, assigned).where(Checkpoint.code == bindparam("code"))
            .options(raiseload("*", sql_only=True)))


def _passages_seen(decl_id: int, checkpoint_id: int, client_uuid: str) -> list[Passage]:
    """Everything the write compares against, in one query: the passage already stored under this
    UUID (a replay, or a conflict) and this trip's passages at this checkpoint (an earlier decision,
    a self check-in waiting). Read after the declaration's row lock."""
    return list(db.session.scalars(select(Passage).where(_seen(decl_id, checkpoint_id, client_uuid))
                                   .options(raiseload("*", sql_only=True))))


def _seen(decl_id: int, checkpoint_id: int, client_uuid: str):
    """The passages a write compares against: this UUID's, and this trip's at this checkpoint."""
    return or_(Passage.client_uuid == client_uuid,
               and_(Passage.declaration_id == decl_id, Passage.checkpoint_id == checkpoint_id))


@cache
def _seen_and_open_arrival():
    one = select(literal(1).label("one")).subquery()
    return (select(Passage, persons.open_arrival_id_of(bindparam("person_id"))).select_from(one)
            .outerjoin(Passage, _seen(bindparam("decl_id"), bindparam("checkpoint_id"), bindparam("client_uuid")))
            .options(raiseload("*", sql_only=True)))


def _passages_seen_and_open_arrival(decl: Declaration, checkpoint_id: int, client_uuid: str) -> list[Passage]:
    """_passages_seen and, in the same round trip, the open arrival of the declaration's person (read
    after the person's row lock, so a trip routed meanwhile is seen), handed to route_arrival."""
    rows = db.session.execute(_seen_and_open_arrival(), {
        "person_id": decl.person_id, "decl_id": decl.id, "checkpoint_id": checkpoint_id,
        "client_uuid": client_uuid}).all()
    persons.mark_locked(decl.person_id, rows[0][1])
    return [passage for passage, _open in rows if passage is not None]


@cache
def _locked_declaration(by: str, with_person: bool):
    """The declaration whose `by` (token_id or code) is :key, with its destination unit, row-locked
    with its person (with_person) or alone. NO KEY UPDATE: a long import inserting rows that refer to
    the person (a foreign key's KEY SHARE lock) does not hold the checkpoint up."""
    found = (select(Declaration).where(getattr(Declaration, by) == bindparam("key"))
             .options(joinedload(Declaration.dest_commune), raiseload("*", sql_only=True)))
    if with_person:
        return (found.join(Person, Person.id == Declaration.person_id)
                .with_for_update(of=[Declaration, Person], key_share=True))
    return found.with_for_update(of=Declaration, key_share=True)


def resolve_for_passage(*, token: str = "", code: str = "", at: datetime, checkpoint: Checkpoint,
                        client_uuid: str) -> tuple[Declaration, list[Passage]]:
    """`resolve` for the passage write, in two statements: the declaration and its person with their
    row locks (PostgreSQL) and its destination unit, then the passages the write compares against
    with the person's open arrival (a declaration without a person, or an unknown code, costs one
    statement more).

    Same answers as resolve + record_passage's reads: a replay of a recorded passage (same UUID,
    same declaration) is answered even when the code has expired or the declaration was
    de-identified since; its validity was checked the first time.
    """
    data = None
    if token:
        try:
            data = tokens.verify(token, check_expiry=False)
        except tokens.TokenError as err:
            raise PassageError(REFUSALS[err.reason], reason=err.reason) from None
        by, key = "token_id", data.token_id
    elif code:
        by, key = "code", clean_code(code)[:16]
    else:
        raise PassageError(REFUSALS["unknown"], reason="unknown")
    # The declaration and its person locked together (route_arrival needs the person's lock): every
    # declaration made by the form, khai hộ or an import has one; a declaration without (or an unknown
    # code) is read again on its own.
    decl = db.session.scalar(_locked_declaration(by, True), {"key": key})
    with_person = decl is not None
    if decl is None:
        decl = db.session.scalar(_locked_declaration(by, False), {"key": key})
    if decl is None:
        seen = []
    elif with_person:
        seen = _passages_seen_and_open_arrival(decl, checkpoint.id, client_uuid)
    else:
        seen = _passages_seen(decl.id, checkpoint.id, client_uuid)
    if any(p.client_uuid == client_uuid and p.declaration_id == decl.id for p in seen):
        return decl, seen
    if data is not None and at > data.valid_until:
        raise PassageError(REFUSALS["expired"], reason="expired")
    if decl is None or decl.deidentified_at is not None:
        raise PassageError(REFUSALS["unknown"], reason="unknown")
    if at > decl.valid_until:
        raise PassageError(REFUSALS["expired"], reason="expired")
    return decl, seen


def find_declarations(query: str, now: datetime, limit: int = 10) -> list[Declaration]:
    """Declarations still valid for passage, by phone, ID number or declaration code."""
    text = (query or "").strip()
    if not text:
        return []
    conditions = []
    phone = normalise_phone(text)
    if phone:
        conditions.append(Declaration.phone == phone)
    digits = "".join(c for c in text if c.isalnum()).upper()
    if len(digits) >= 6:
        conditions.append(Declaration.id_number == digits)
    code = clean_code(text)
    if len(code) == 8:
        conditions.append(Declaration.code == code)
    if not conditions:
        return []
    return list(db.session.scalars(
        select(Declaration).where(or_(*conditions), Declaration.valid_until >= now,
                                  Declaration.deidentified_at.is_(None))
        .order_by(Declaration.created_at.desc()).limit(limit)))


def find_by_card(card, now: datetime) -> list[Declaration]:
    """Declarations still valid for passage of the person an ID card's QR names (its number, or the
    old CMND number it also prints)."""
    numbers = [n for n in (card.id_number, card.old_id) if n]
    if not numbers:
        return []
    return list(db.session.scalars(
        select(Declaration).where(Declaration.id_number.in_(numbers), Declaration.valid_until >= now,
                                  Declaration.deidentified_at.is_(None))
        .order_by(Declaration.created_at.desc()).limit(10)))


# What the verdict card shows --------------------------------------------------------------------

_ANSWERED = aliased(Passage, name="answered")  # built once: an alias per call rebuilds its columns


def earlier_decision(decl: Declaration, checkpoint: Checkpoint) -> Passage | None:
    """The staff decision already recorded for this trip at this checkpoint, if any."""
    return db.session.scalar(
        select(Passage).where(Passage.declaration_id == decl.id, Passage.checkpoint_id == checkpoint.id,
                              Passage.decision.is_not(None))
        .order_by(Passage.server_ts, Passage.id).limit(1))


def pending_checkin(decl: Declaration, checkpoint: Checkpoint) -> Passage | None:
    """The traveller's own "I am at this checkpoint" that no staff member has answered yet."""
    answered = _ANSWERED
    return db.session.scalar(
        select(Passage).where(
            Passage.declaration_id == decl.id, Passage.checkpoint_id == checkpoint.id,
            Passage.kind == "self_checkin", Passage.decision.is_(None),
            ~exists().where(answered.confirms_id == Passage.id))
        .order_by(Passage.server_ts.desc()).limit(1))


def computed_plan(decl: Declaration, at: datetime) -> Plan:
    return plan_for_declaration(decl, clock.today(at))


# What the card leads to. A refusal is not a measure the rules can give today; "refuse" is kept
# so that a rule set which adds one is shown red with "Turn back" first.
STANCES = {"declaration_only": "allow", "self_monitoring": "conditions", "home_quarantine": "conditions",
           "central_quarantine": "quarantine", "refuse": "refuse"}


def stance(plan: Plan) -> str:
    """allow (green, "Let through" first), conditions (amber, let through with the conditions
    spelled out), quarantine or refuse (red, that action first, letting through is an override)."""
    return STANCES.get(plan.measure, "conditions")


def verdict(decl: Declaration, checkpoint: Checkpoint, at: datetime) -> dict:
    """The facts of the verdict card (the template turns them into words)."""
    day = clock.today(at)
    plan = computed_plan(decl, at)
    return {
        "decl": decl,
        "stance": stance(plan),
        "level": origin_level(decl.origin_province_code, decl.origin_commune_code, day),
        "vaccination": vaccination_status(decl.vaccine_doses or 0, decl.last_dose_date, decl.recovered_date, day),
        "plan": plan,
        "instruction": db.session.get(Instruction, plan.instruction_code) if plan.instruction_code else None,
        "transit": not in_home_province(decl.dest_commune_code),
        "earlier": earlier_decision(decl, checkpoint),
        "checkin": pending_checkin(decl, checkpoint),
    }


def instructions() -> list[Instruction]:
    return list(db.session.scalars(select(Instruction).order_by(Instruction.code)))


def _earlier_in(seen: list[Passage], decl_id: int, checkpoint_id: int) -> Passage | None:
    """earlier_decision over passages already loaded."""
    decided = [p for p in seen if p.declaration_id == decl_id and p.checkpoint_id == checkpoint_id
               and p.decision is not None]
    return min(decided, key=lambda p: (p.server_ts, p.id)) if decided else None


def _pending_in(seen: list[Passage], decl_id: int, checkpoint_id: int) -> Passage | None:
    """pending_checkin over passages already loaded (an answer to a check-in is always a passage of
    the same trip at the same checkpoint, so it is among them)."""
    answered = {p.confirms_id for p in seen if p.confirms_id}
    waiting = [p for p in seen if p.declaration_id == decl_id and p.checkpoint_id == checkpoint_id
               and p.kind == "self_checkin" and p.decision is None and p.id not in answered]
    return max(waiting, key=lambda p: (p.server_ts, p.id)) if waiting else None


# Writing the passage ----------------------------------------------------------------------------

def clean_uuid(raw: str | None) -> str:
    """The client's UUID in canonical form (a fresh one for a plain form post without script)."""
    try:
        return str(uuidlib.UUID(str(raw))) if raw else str(uuidlib.uuid4())
    except ValueError:
        raise PassageError(_l("The form is damaged. Reload the page and try again.")) from None


def _validate(values: PassageInput) -> PassageInput:
    if values.decision not in DECISIONS:
        raise PassageError(_l("Choose a decision: let through, turn back or send to centralised quarantine."))
    if values.test_taken not in CHECKPOINT_TESTS:
        raise PassageError(_l("Choose the test taken at the checkpoint."))
    reason = " ".join((values.override_reason or "").split())[:500]
    allow_reason = " ".join((values.allow_reason or "").split())[:500]
    note = (values.note or "").strip()[:1000]
    return replace(values, override_reason=reason, allow_reason=allow_reason, note=note)


def _allow_against_rules(values: PassageInput, plan: Plan) -> bool:
    """Letting through someone the rules send to centralised quarantine (or turn back).

    It needs a reason when the card showed that verdict (or no card was shown, a plain form
    post). A phone that decided offline without knowing the origin showed something milder: the
    passage happened, so it is recorded (and audited) rather than refused on sync.
    """
    if values.decision != "allow" or stance(plan) not in ("quarantine", "refuse"):
        return False
    if not values.allow_reason and values.shown in ("", "quarantine", "refuse"):
        raise PassageError(_l("The rules send this traveller to centralised quarantine: "
                              "give the reason for letting them through."))
    return True


def _central_instruction() -> Instruction | None:
    """The shortest centralised quarantine the instruction codes offer."""
    return db.session.scalar(select(Instruction).where(Instruction.measure == "central_quarantine")
                             .order_by(Instruction.days, Instruction.code).limit(1))


def _instruction(values: PassageInput, plan: Plan) -> tuple[Instruction | int | None, bool, str]:
    """(instruction given, overridden?, reason). An override needs a reason; sending someone to
    centralised quarantine needs a centralised-quarantine instruction. The computed instruction is
    given as its code alone (nothing to read) when the staff kept it."""
    if values.decision == "refuse":
        return None, False, ""
    asked = values.instruction_code is not None and values.instruction_code != plan.instruction_code
    if not asked and values.decision != "quarantine":
        return plan.instruction_code, False, ""
    computed = db.session.get(Instruction, plan.instruction_code) if plan.instruction_code else None
    chosen, reason = computed, ""
    if asked:
        chosen = db.session.get(Instruction, values.instruction_code)
        if chosen is None:
            raise PassageError(_l("Choose an instruction code from the list."))
        if not values.override_reason:
            raise PassageError(_l("Give the reason for changing the computed instruction."))
        reason = values.override_reason
    if values.decision == "quarantine" and (chosen is None or chosen.measure != "central_quarantine"):
        if asked:
            raise PassageError(_l("Centralised quarantine needs a centralised quarantine instruction (code 3 or 8)."))
        chosen, reason = _central_instruction(), str(_l("Sent to centralised quarantine at the checkpoint."))
    overridden = chosen is not computed
    return chosen, overridden, reason if overridden else ""


def _plan_for(plan: Plan, instruction: Instruction | int | None) -> Plan:
    """The arrival's plan when the staff gave another instruction than the rule's."""
    if not isinstance(instruction, Instruction) or instruction.code == plan.instruction_code:
        return plan
    days = instruction.days
    same = instruction.measure == plan.measure
    return replace(plan, measure=instruction.measure, days=days,
                   end=plan.start + timedelta(days=max(days, 1) - 1),
                   self_monitoring_until=plan.self_monitoring_until if same and days == plan.days else None,
                   test_days=[d for d in plan.test_days if d <= days] if same else [],
                   needs_approval=instruction.needs_approval, instruction_code=instruction.code, rule_id=None)


def _same(passage: Passage, decl: Declaration, checkpoint: Checkpoint, values: PassageInput,
          checkin_id: int | None) -> bool:
    """Is a stored passage what this request asks for (a replay), field by field?"""
    asked_override = values.instruction_code is not None
    return (passage.declaration_id == decl.id and passage.checkpoint_id == checkpoint.id
            and passage.decision == values.decision and passage.test_taken == values.test_taken
            and bool(passage.papers_checked) == bool(values.papers_checked)
            and (passage.note or "") == values.note
            and (not asked_override or values.instruction_code == passage.instruction_code)
            and (not (asked_override and passage.instruction_overridden)
                 or values.override_reason == passage.override_reason)
            and (checkin_id is None or passage.confirms_id == checkin_id))


def _conflict() -> PassageError:
    return PassageError(_l("This confirmation was already sent with different content. "
                           "Scan the QR code again to record a new one."), status=422, reason="conflict")


def _replay(client_uuid: str, decl, checkpoint, values, checkin_id, seen: list[Passage] | None = None) -> Passage | None:
    """The passage stored under this UUID (a replay), or None; PassageError when it says otherwise."""
    if seen is None:
        existing = db.session.scalar(select(Passage).where(Passage.client_uuid == client_uuid))
    else:
        existing = next((p for p in seen if p.client_uuid == client_uuid), None)
    if existing is not None and not _same(existing, decl, checkpoint, values, checkin_id):
        raise _conflict()
    return existing


def _insert(dialect: str, row: dict) -> Passage | None:
    """INSERT the passage, or nothing when its UUID is already stored (committed meanwhile: SQLite
    has no row lock, and another declaration may carry the same UUID). No savepoint, no re-read."""
    from ..ops.metrics import passages_inserted

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    passage = db.session.scalar(insert(Passage).values(**row).on_conflict_do_nothing(index_elements=["client_uuid"])
                                .returning(Passage))
    if passage is not None:
        passages_inserted(db.session, row.get("kind") or "staff")
    return passage


def record_passage(*, user, checkpoint: Checkpoint, decl: Declaration, values: PassageInput,
                   client_uuid: str | None, client_ts: datetime | None = None, checkin_id: int | None = None,
                   now: datetime | None = None, seen: list[Passage] | None = None) -> tuple[Passage, str]:
    """Record a staff decision; returns (passage, "created" | "replay" | "already").

    Runs inside the caller's transaction; the caller commits. The declaration row is locked on
    PostgreSQL so that two devices (or two copies of one request) are decided one after the other.
    `seen` is what resolve_for_passage read under that lock; without it the lock is taken and the
    passages are read here.
    """
    now = now or clock.utcnow()
    at = moment(client_ts, now)
    values = _validate(values)
    client_uuid = clean_uuid(client_uuid)
    if seen is None:
        db.session.execute(select(Declaration.id).where(Declaration.id == decl.id).with_for_update())
        seen = _passages_seen(decl.id, checkpoint.id, client_uuid)
    existing = _replay(client_uuid, decl, checkpoint, values, checkin_id, seen)
    if existing is not None:
        return existing, "replay"
    earlier = _earlier_in(seen, decl.id, checkpoint.id)
    if earlier is not None:
        return earlier, "already"
    if checkin_id:
        checkin = next((p for p in seen if p.id == checkin_id), None) or db.session.get(Passage, checkin_id)
    else:
        checkin = _pending_in(seen, decl.id, checkpoint.id)
    if checkin is not None and (checkin.kind != "self_checkin" or checkin.declaration_id != decl.id
                                or checkin.checkpoint_id != checkpoint.id):
        raise PassageError(_l("This check-in belongs to another traveller or checkpoint."), status=404)
    plan = computed_plan(decl, at)
    against_rules = _allow_against_rules(values, plan)
    instruction, overridden, reason = _instruction(values, plan)
    if against_rules and values.allow_reason:
        reason = "; ".join(r for r in (reason, values.allow_reason) if r)[:500]
    home = in_home_province(decl.dest_commune_code)
    passage = _insert(db.session.get_bind(Passage).dialect.name, dict(
        declaration_id=decl.id, checkpoint_id=checkpoint.id, user_id=user.id, kind="staff",
        confirms_id=checkin.id if checkin is not None else None, decision=values.decision,
        papers_checked=bool(values.papers_checked), test_taken=values.test_taken,
        instruction_code=instruction.code if isinstance(instruction, Instruction) else instruction,
        instruction_overridden=overridden, override_reason=reason, transit=not home,
        client_uuid=client_uuid, client_ts=client_ts, server_ts=now, note=values.note))
    if passage is None:  # the same UUID was committed meanwhile
        existing = _replay(client_uuid, decl, checkpoint, values, checkin_id)
        if existing is None:
            raise _conflict()
        return existing, "replay"
    if values.decision != "refuse":
        arrival = route_arrival(decl, passage=passage, user=user, at=at, plan=_plan_for(plan, instruction))
        passage.transit = arrival is None
    db.session.flush()
    if against_rules:
        audit.record("passage.allow_against_rules", passage, user=user, area_code=checkpoint.commune_code,
                     before={"measure": plan.measure, "instruction": plan.instruction_code, "shown": values.shown},
                     after={"decision": "allow", "reason": values.allow_reason})
    if overridden and values.instruction_code is not None:
        audit.record("passage.override_instruction", passage, user=user, area_code=checkpoint.commune_code,
                     before={"instruction": plan.instruction_code},
                     after={"instruction": passage.instruction_code, "reason": reason})
    return passage, "created"


# Lists ------------------------------------------------------------------------------------------

def day_bounds(day) -> tuple[datetime, datetime]:
    """The UTC instants a local day starts and ends at."""
    start = datetime.combine(day, time(0, 0), clock.LOCAL)
    return start, start + timedelta(days=1)


def pending_checkins(checkpoint_ids: list[int], now: datetime, limit: int = 50) -> list[Passage]:
    """Self check-ins at these checkpoints still waiting for staff, oldest first."""
    answered = _ANSWERED
    return list(db.session.scalars(
        select(Passage).join(Declaration, Passage.declaration_id == Declaration.id)
        .options(joinedload(Passage.declaration), joinedload(Passage.checkpoint))
        .where(Passage.checkpoint_id.in_(checkpoint_ids or [-1]), Passage.kind == "self_checkin",
               Passage.decision.is_(None), Declaration.valid_until >= now,
               ~exists().where(answered.confirms_id == Passage.id))
        .order_by(Passage.server_ts).limit(limit)))


def passages_on(checkpoint_ids: list[int], day, *, page: int = 1, per_page: int = 20) -> tuple[list[Passage], bool, int]:
    """Staff decisions of a local day at these checkpoints, newest first: (rows, more, total)."""
    start, end = day_bounds(day)
    where = and_(Passage.checkpoint_id.in_(checkpoint_ids or [-1]), Passage.decision.is_not(None),
                 Passage.server_ts >= start, Passage.server_ts < end)
    total = db.session.scalar(select(func.count()).select_from(Passage).where(where))
    rows = list(db.session.scalars(
        select(Passage).options(joinedload(Passage.declaration), joinedload(Passage.user),
                                joinedload(Passage.checkpoint))
        .where(where).order_by(Passage.server_ts.desc(), Passage.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page, total
