"""Personal data: who may reveal an ID number, de-identification (retention and erasure), data-subject
requests and the privacy notice. Plain functions; each change writes an audit event."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update

from .. import audit, persons
from ..accounts.scope import commune_codes
from ..clock import utcnow
from ..extensions import db
from ..models import (AdminUnit, Arrival, ArrivalEvent, ArrivalTrip, Checkpoint, Declaration, HealthCheck, ImportAnalysis,
                      ImportBatch, ImportRow, Passage, Person, PrivacyNotice)
from ..text import fold, normalise_phone
from ..traveller.status import ACTIVE

# What de-identification blanks: everything that names or reaches a person. Kept: dates, communes,
# birth year, sex, vaccination, symptoms, decisions and states, so every count stays the same.
BLANKED = {"full_name": "", "search_name": "", "id_number": "", "phone": "", "contact_street": "",
           "origin_street": "", "dest_street": "", "vehicle_plate": "", "vehicle_seat": "", "places_visited": "",
           "on_behalf_by": "", "birth_date": None}


class PrivacyError(ValueError):
    """A request that cannot be carried out; the message is shown to the user."""


def can_see_declaration(user, decl: Declaration, now: datetime | None = None) -> bool:
    """Whether `user`'s scope covers this traveller (the same rule for lists and for revealing)."""
    if user.role == "supervisor" or user.role == "commune":
        codes = commune_codes(user)
        if decl.dest_commune_code in codes:
            return True
        routed = db.session.scalar(select(Arrival.id).where(Arrival.declaration_id == decl.id,
                                                            Arrival.commune_code.in_(codes)).limit(1))
        if routed is not None:
            return True
        if user.role == "commune":
            return False
        return db.session.scalar(
            select(Passage.id).join(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
            .where(Passage.declaration_id == decl.id, Checkpoint.commune_code.in_(codes)).limit(1)) is not None
    if user.role == "checkpoint":
        ids = set(user.checkpoint_ids)
        if decl.checkpoint_id in ids:
            return True
        if (now or utcnow()) <= decl.valid_until:
            return True  # a valid personal QR being checked at the checkpoint
        return db.session.scalar(select(Passage.id).where(Passage.declaration_id == decl.id,
                                                          Passage.checkpoint_id.in_(ids or {-1})).limit(1)) is not None
    return False  # administrators see personal data only through a data-subject request


def reveal(user, decl: Declaration) -> str:
    """The full ID number for someone allowed to see it; the reveal is audited."""
    audit.record("id.reveal", decl, object_id=decl.code, user=user, area_code=decl.dest_commune_code,
                 detail=decl.id_type)
    return decl.id_number


# --- De-identification -------------------------------------------------------------------------

def _deidentify(where, now: datetime) -> int:
    """Blank the personal fields of the declarations matching `where`, and the free text and imported
    cells that copy them. Set-based UPDATEs: the same cost for ten rows or a hundred thousand."""
    result = db.session.execute(
        update(Declaration).where(Declaration.deidentified_at.is_(None), where)
        .values(**BLANKED, deidentified_at=now).execution_options(synchronize_session=False))
    done = select(Declaration.id).where(Declaration.deidentified_at == now)
    db.session.execute(update(Passage).where(Passage.declaration_id.in_(done))
                       .values(note="", override_reason="").execution_options(synchronize_session=False))
    arrivals = select(Arrival.id).where(Arrival.declaration_id.in_(done))
    db.session.execute(update(HealthCheck).where(HealthCheck.arrival_id.in_(arrivals))
                       .values(note="").execution_options(synchronize_session=False))
    db.session.execute(update(ArrivalEvent).where(ArrivalEvent.arrival_id.in_(arrivals))
                       .values(reason="").execution_options(synchronize_session=False))
    db.session.execute(update(ImportRow).where(or_(
        ImportRow.declaration_id.in_(done),
        ImportRow.id.in_(select(Declaration.import_row_id).where(Declaration.deidentified_at == now))))
        .values(data={}).execution_options(synchronize_session=False))
    # The person's keys name them too: blanked once none of their declarations keeps its data.
    kept = select(Declaration.person_id).where(Declaration.deidentified_at.is_(None), Declaration.person_id.is_not(None))
    db.session.execute(update(Person).where(Person.id.in_(select(Declaration.person_id).where(
        Declaration.deidentified_at == now)), ~Person.id.in_(kept))
        .values(id_number="", name_folded="", phone="").execution_options(synchronize_session=False))
    db.session.expire_all()
    return result.rowcount


def retention_cutoff(days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)


def due_for_retention(cutoff: datetime):
    """Declarations whose monitoring ended before `cutoff`: every arrival closed (not expected, arrived,
    monitoring or ended without final check) before it, or, never routed, whose trip window ended before it."""
    # A later trip linked into a person's arrival (ArrivalTrip) is followed there like the first one.
    followed = or_(Arrival.declaration_id == Declaration.id, exists().where(
        ArrivalTrip.arrival_id == Arrival.id, ArrivalTrip.declaration_id == Declaration.id))
    open_or_recent = exists().where(
        followed, or_(Arrival.status.in_(ACTIVE), func.coalesce(Arrival.ended_at, Arrival.updated_at) >= cutoff))
    routed = exists().where(followed)
    # An imported row still waiting in triage for its commune is pending work, not old data.
    pending = exists().where(ImportRow.id == Declaration.import_row_id, ImportRow.status == "triage")
    return and_(~open_or_recent, or_(routed, Declaration.valid_until < cutoff), ~pending)


def retention(days: int, *, now: datetime | None = None, dry_run: bool = False) -> int:
    """De-identify travellers whose monitoring ended more than `days` days ago. Idempotent; audited."""
    if days < 0:
        raise PrivacyError("days must be >= 0")
    now = now or utcnow()
    where = due_for_retention(retention_cutoff(days, now))
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(Declaration)
                                 .where(Declaration.deidentified_at.is_(None), where))
    count = _deidentify(where, now)
    # Imported lines that never became a declaration (invalid, duplicates, batches never written)
    # still hold the cells of the file: emptied once their batch is older than the cutoff.
    old_batches = select(ImportBatch.id).where(ImportBatch.created_at < retention_cutoff(days, now))
    lines = db.session.execute(
        update(ImportRow).where(ImportRow.declaration_id.is_(None), ImportRow.batch_id.in_(old_batches),
                                ImportRow.status != "triage",
                                ~ImportRow.id.in_(select(Declaration.import_row_id).where(
                                    Declaration.import_row_id.is_not(None), Declaration.deidentified_at.is_(None))))
        .values(data={}).execution_options(synchronize_session=False)).rowcount
    # A dry run's kept readings of those lines (imports/analysis.py), of a batch never committed.
    db.session.execute(ImportAnalysis.__table__.delete().where(ImportAnalysis.batch_id.in_(old_batches)))
    audit.record("retention.run", object_type="Declaration", detail=f"days={days}",
                 after={"deidentified": count, "days": days, "import_lines_emptied": lines},
                 area_code=current_app.config["KIEMDICH_PROVINCE"])
    return count


# --- Data-subject requests (admins) --------------------------------------------------------------

def find_person(*, id_number: str = "", phone: str = "", name: str = "", birth_year: int | None = None,
                limit: int = 200) -> list[Declaration]:
    """Declarations of one person, by ID number, phone, or name (with birth year), and every other
    declaration linked to the same person (kiemdich/persons.py: an older trip with another phone, a
    list imported without ID number); newest first."""
    conditions = []
    digits = "".join(ch for ch in id_number if ch.isalnum()).upper()
    if digits:
        conditions.append(Declaration.id_number == digits)
    if phone:
        conditions.append(Declaration.phone == (normalise_phone(phone) or phone.strip()))
    if name.strip():
        folded = fold(name)
        by_name = Declaration.search_name == folded
        conditions.append(and_(by_name, Declaration.birth_year == birth_year) if birth_year else by_name)
    if not conditions:
        return []
    found = select(Declaration.id).where(or_(*conditions)).limit(limit)
    ids = persons.declarations_of(db.session.scalars(found))
    return list(db.session.scalars(select(Declaration).where(Declaration.id.in_(ids))
                                   .order_by(Declaration.created_at.desc()).limit(limit)))


def record_search(user, kinds: list[str], found: list[Declaration]) -> None:
    """Audit a search: which fields were used and which records it showed (never the values typed)."""
    audit.record("dsr.search", object_type="Declaration", user=user, detail="by " + "+".join(kinds),
                 after={"codes": [d.code for d in found][:200]})


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _columns(obj, skip=()) -> dict:
    return {c.key: _iso(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip}


def person_export(declarations: list[Declaration], user) -> dict:
    """Everything stored about these declarations, as plain data (for a JSON download); audited."""
    units = dict(db.session.execute(select(AdminUnit.code, AdminUnit.name)).all())
    records = []
    for d in declarations:
        passages = db.session.scalars(select(Passage).where(Passage.declaration_id == d.id).order_by(Passage.id)).all()
        arrivals = db.session.scalars(select(Arrival).where(persons.follows(d.id)).order_by(Arrival.id)).all()
        record = _columns(d, skip=("id", "token_id", "import_row_id", "declared_by_id", "checkpoint_id"))
        record["destination"] = units.get(d.dest_commune_code or "", "")
        record["passages"] = [_columns(p, skip=("id", "declaration_id", "user_id", "confirms_id", "client_uuid"))
                              | {"checkpoint": p.checkpoint.name} for p in passages]
        record["arrivals"] = [
            _columns(a, skip=("id", "declaration_id", "passage_id", "confirmed_by_id", "rule_id"))
            | {"commune": units.get(a.commune_code, ""),
               "health_checks": [_columns(h, skip=("id", "arrival_id", "user_id", "client_uuid")) for h in a.checks],
               "history": [_columns(e, skip=("id", "arrival_id", "user_id")) for e in a.events]}
            for a in arrivals]
        records.append(record)
    audit.record("dsr.export", object_type="Declaration", user=user,
                 after={"codes": [d.code for d in declarations]}, detail=f"{len(declarations)} declarations")
    return {"exported_at": utcnow().isoformat(), "controller": current_app.config.get("KIEMDICH_PROVINCE"),
            "declarations": records}


def erase(declarations: list[Declaration], reason: str, user, *, now: datetime | None = None) -> int:
    """De-identify these declarations now (data subject's request), unless monitoring is still running."""
    from flask_babel import gettext as _

    reason = (reason or "").strip()
    if len(reason) < 5:
        raise PrivacyError(_("Write the reason for the erasure."))
    ids = [d.id for d in declarations if d.deidentified_at is None]
    if not ids:
        raise PrivacyError(_("These records were already de-identified."))
    active = db.session.scalar(select(func.count()).select_from(Arrival).where(
        or_(Arrival.declaration_id.in_(ids),
            Arrival.id.in_(select(ArrivalTrip.arrival_id).where(ArrivalTrip.declaration_id.in_(ids)))),
        Arrival.status.in_(ACTIVE)))
    if active:
        raise PrivacyError(_("Monitoring of this person is still running: close it before erasing the records."))
    codes = [d.code for d in declarations if d.id in ids]
    count = _deidentify(Declaration.id.in_(ids), now or utcnow())
    audit.record("dsr.erase", object_type="Declaration", user=user, detail=reason[:2000],
                 after={"codes": codes, "deidentified": count})
    return count


# --- Privacy notice ------------------------------------------------------------------------------

def publish_notice(version: str, text: str, user) -> PrivacyNotice:
    """A new version of the privacy notice; the declaration form shows it from now on."""
    from flask_babel import gettext as _

    version, text = (version or "").strip(), (text or "").strip()
    if not version or not text:
        raise PrivacyError(_("Enter the version and the text."))
    if db.session.scalar(select(PrivacyNotice.id).where(PrivacyNotice.version == version)):
        raise PrivacyError(_("Version %(v)s already exists: choose a new version name.", v=version))
    notice = PrivacyNotice(version=version, text=text, created_by_id=user.id if user else None,
                           published_at=utcnow())
    db.session.add(notice)
    db.session.flush()
    audit.record("privacy_notice.publish", notice, object_id=version, user=user, after={"version": version},
                 area_code=current_app.config["KIEMDICH_PROVINCE"])
    return notice
