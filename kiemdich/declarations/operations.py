"""State changes for declarations: creating one (once per form), self check-in, the signed token."""
import secrets
import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit, clock, persons, settings, tokens
from ..codes import clean_code, new_code
from ..extensions import db
from ..models import Checkpoint, Declaration, Passage, PrivacyNotice, RetiredCheckpointCode
from ..rules.plan import vaccination_status
from ..text import fold
from .rules import valid_until


class StaleForm(ValueError):
    """The form's one-time key was already used for another person's declaration."""


def _insert(row) -> bool:
    """Add and flush `row` in a savepoint; False if a unique constraint refused it (a repeat),
    leaving the session usable. Concurrent repeats meet the same constraint on both engines."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def latest_notice() -> PrivacyNotice | None:
    """The privacy notice in force: the one published last."""
    return db.session.scalar(select(PrivacyNotice).order_by(PrivacyNotice.published_at.desc(),
                                                            PrivacyNotice.id.desc()).limit(1))


def new_nonce() -> str:
    """The one-time key of a blank form; it becomes the declaration's token id."""
    return secrets.token_hex(8)


def create_declaration(values: dict, *, nonce: str | None = None, checkpoint: Checkpoint | None = None,
                       staff=None, now: datetime | None = None) -> tuple[Declaration, bool]:
    """Store a validated declaration; returns (declaration, created).

    `nonce` is the form's one-time key: sending the same form twice (double tap, retry on a
    bad line, two concurrent requests) gives back the first declaration instead of a second
    one. A key reused for a different ID number is a stale form and raises StaleForm.
    """
    now = now or clock.utcnow()
    token_id = nonce or new_nonce()
    hours = settings.get_int("token_valid_hours")
    for _attempt in range(3):
        decl = Declaration(
            **values, code=new_code(), token_id=token_id, search_name=fold(values["full_name"]),
            checkpoint_id=checkpoint.id if checkpoint else None, created_at=now,
            valid_until=valid_until(now, values["travel_date"], hours),
            source="staff" if staff is not None else "web",
            declared_by_id=staff.id if staff is not None else None)
        if staff is not None:
            decl.on_behalf = True
            decl.on_behalf_by = staff.full_name or staff.username
        persons.link(decl)  # the same person as an earlier declaration, or a new one
        if not _insert(decl):
            existing = db.session.scalar(select(Declaration).where(Declaration.token_id == token_id))
            if existing is None:
                continue  # the random public code collided: draw another
            if existing.id_number != values["id_number"]:
                raise StaleForm(token_id)
            return existing, False
        if staff is not None:
            audit.record("declaration.create_on_behalf", decl, user=staff,
                         area_code=decl.dest_commune_code, detail=decl.code)
        return decl, True
    raise RuntimeError("could not draw a free declaration code")


def vaccination_of(decl: Declaration) -> str:
    return vaccination_status(decl.vaccine_doses, decl.last_dose_date, decl.recovered_date, decl.travel_date)


def token_for(decl: Declaration) -> str:
    """A freshly signed personal token for the declaration (signatures differ, all are valid)."""
    return tokens.encode(
        token_id=decl.token_id, valid_until=decl.valid_until, travel_date=decl.travel_date,
        birth_year=decl.birth_year, dest_commune_code=decl.dest_commune_code,
        vaccination=vaccination_of(decl), symptoms=bool(decl.symptoms), on_behalf=decl.on_behalf,
        id_number=decl.id_number, full_name=decl.full_name)


def declaration_for_token(token: str, *, check_expiry: bool, now: datetime | None = None) -> Declaration:
    """The declaration a token names, after verifying it; TokenError otherwise."""
    data = tokens.verify(token, now=now, check_expiry=check_expiry)
    decl = db.session.scalar(select(Declaration).where(Declaration.token_id == data.token_id))
    if decl is None:
        raise tokens.TokenError("unknown")
    return decl


def find_checkpoint(code: str) -> tuple[Checkpoint | None, str]:
    """The checkpoint a poster code names and its state: ok, inactive, retired or unknown."""
    code = clean_code(code)[:16]
    checkpoint = db.session.scalar(select(Checkpoint).where(Checkpoint.code == code))
    if checkpoint is not None:
        return checkpoint, "ok" if checkpoint.active else "inactive"
    retired = db.session.get(RetiredCheckpointCode, code)
    if retired is not None:
        return retired.checkpoint, "retired"
    return None, "unknown"


def is_transit(decl: Declaration) -> bool:
    """Going somewhere outside the home province: the commune there is not ours to follow."""
    unit = decl.dest_commune
    return unit is None or unit.parent_code != current_app.config["KIEMDICH_PROVINCE"]


def self_checkin(token: str, checkpoint: Checkpoint, *, client_uuid: str | None = None,
                 client_ts: datetime | None = None, now: datetime | None = None) -> tuple[Passage, bool]:
    """Record "I am at this checkpoint" from the traveller's phone; returns (passage, created).

    The passage waits for staff (decision None). Repeating it, or tapping on a phone that
    already checked in here within the validity window, gives back the first one.
    """
    now = now or clock.utcnow()
    decl = declaration_for_token(token, check_expiry=True, now=now)
    try:
        client_uuid = str(uuid.UUID(client_uuid)) if client_uuid else str(uuid.uuid4())
    except ValueError:
        client_uuid = str(uuid.uuid4())
    # Two taps with two keys at once (two tabs) both found no earlier check-in and both wrote one
    # (found by bench/load.py): the declaration's row lock, as the staff passage takes, orders them.
    db.session.execute(select(Declaration.id).where(Declaration.id == decl.id).with_for_update())
    earlier = db.session.scalar(
        select(Passage).where(Passage.declaration_id == decl.id, Passage.checkpoint_id == checkpoint.id,
                              Passage.server_ts >= decl.created_at)
        .order_by(Passage.server_ts).limit(1))
    if earlier is not None:
        return earlier, False
    passage = Passage(declaration_id=decl.id, checkpoint_id=checkpoint.id, user_id=None,
                      kind="self_checkin", decision=None, client_uuid=client_uuid,
                      client_ts=client_ts, server_ts=now, transit=is_transit(decl))
    if not _insert(passage):
        existing = db.session.scalar(select(Passage).where(Passage.client_uuid == client_uuid))
        if existing is not None and existing.declaration_id == decl.id:
            return existing, False
        # The phone's key names another person's passage: record this one under a key of our own.
        passage.client_uuid = str(uuid.uuid4())
        if not _insert(passage):
            raise RuntimeError("could not record the self check-in")
    return passage, True
