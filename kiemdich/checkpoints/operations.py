"""State changes on checkpoints: plain functions, scoped to the acting supervisor, each audited."""
from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..accounts.scope import can_see_checkpoint, commune_codes
from ..codes import new_code
from ..extensions import db
from ..models import AdminUnit, Checkpoint, RetiredCheckpointCode, User, UserCheckpoint


class CheckpointError(ValueError):
    """A request that cannot be carried out; the message is shown next to the field."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.field = field


def describe(cp: Checkpoint) -> dict:
    return {"code": cp.code, "name": cp.name, "commune": cp.commune_code, "road": cp.road,
            "lat": cp.lat, "lon": cp.lon, "active": cp.active, "poster_version": cp.poster_version}


def in_scope(user) -> list[Checkpoint]:
    """The checkpoints a user may see, by name."""
    stmt = select(Checkpoint).order_by(Checkpoint.active.desc(), Checkpoint.name)
    if user.role == "checkpoint":
        stmt = stmt.where(Checkpoint.id.in_(user.checkpoint_ids or [-1]))
    elif user.role == "supervisor":
        stmt = stmt.where(Checkpoint.commune_code.in_(commune_codes(user) or {""}))
    else:
        return []
    return list(db.session.scalars(stmt))


def _check_values(by, name: str, commune_code: str, lat, lon) -> None:
    if not (name or "").strip():
        raise CheckpointError(_("Enter the checkpoint's name."))
    unit = db.session.get(AdminUnit, commune_code or "")
    if unit is None or unit.kind != "commune":
        raise CheckpointError(_("Choose the commune or ward where the checkpoint stands."), "commune")
    if commune_code not in commune_codes(by):
        raise CheckpointError(_("This commune is outside your area."), "commune")
    if (lat is None) != (lon is None):
        raise CheckpointError(_("Enter both latitude and longitude, or neither."), "lat")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CheckpointError(_("Latitude is between -90 and 90, longitude between -180 and 180."), "lat")


def _free_code() -> str:
    while True:
        code = new_code()
        taken = db.session.scalar(select(Checkpoint.id).where(Checkpoint.code == code)) or \
            db.session.get(RetiredCheckpointCode, code)
        if not taken:
            return code


def create_checkpoint(*, name: str, commune_code: str, road: str = "", lat=None, lon=None, by) -> Checkpoint:
    """A new active checkpoint with a fresh public code, inside the supervisor's area."""
    _check_values(by, name, commune_code, lat, lon)
    cp = Checkpoint(code=_free_code(), name=name.strip(), commune_code=commune_code, road=(road or "").strip(),
                    lat=lat, lon=lon, active=True, poster_version=1)
    db.session.add(cp)
    db.session.flush()
    audit.record("checkpoint.create", cp, after=describe(cp), area_code=commune_code, user=by)
    return cp


def update_checkpoint(cp: Checkpoint, *, name: str, commune_code: str, road: str = "", lat=None, lon=None,
                      by) -> None:
    """Change name, commune, road or position; the public code (and so the posters) stay."""
    if not can_see_checkpoint(by, cp):
        raise CheckpointError(_("This checkpoint is outside your area."))
    _check_values(by, name, commune_code, lat, lon)
    before = describe(cp)
    cp.name, cp.commune_code, cp.road, cp.lat, cp.lon = name.strip(), commune_code, (road or "").strip(), lat, lon
    after = describe(cp)
    if after != before:
        audit.record("checkpoint.update", cp, before=before, after=after, area_code=commune_code, user=by)


def set_active(cp: Checkpoint, active: bool, *, by) -> None:
    """Deactivate (its poster then says so) or reactivate. Idempotent."""
    if cp.active == active:
        return
    before = describe(cp)
    cp.active = active
    audit.record("checkpoint.activate" if active else "checkpoint.deactivate", cp, before=before,
                 after=describe(cp), area_code=cp.commune_code, user=by)


def rotate_code(cp: Checkpoint, *, by) -> str:
    """Give the checkpoint a new public code; posters with the old one show that they were replaced."""
    old = cp.code
    db.session.add(RetiredCheckpointCode(code=old, checkpoint_id=cp.id))
    cp.code = _free_code()
    cp.poster_version += 1
    audit.record("checkpoint.rotate_code", cp, before={"code": old}, after={"code": cp.code},
                 area_code=cp.commune_code, user=by)
    return cp.code


def assignable_staff(by) -> list[User]:
    """Checkpoint accounts a supervisor may assign: those with no checkpoint, or only checkpoints
    inside the supervisor's area (a supervisor never takes staff from another area)."""
    users = db.session.scalars(select(User).where(User.role == "checkpoint", User.active)
                               .order_by(User.full_name, User.username))
    result = []
    for user in users:
        own = [c.checkpoint for c in user.checkpoints]
        if all(can_see_checkpoint(by, c) for c in own):
            result.append(user)
    return result


def set_staff(cp: Checkpoint, user_ids, *, by) -> None:
    """Make exactly `user_ids` the staff of this checkpoint (their other checkpoints are kept)."""
    wanted = {int(i) for i in user_ids}
    allowed = {u.id: u for u in assignable_staff(by)}
    current = set(db.session.scalars(select(UserCheckpoint.user_id).where(UserCheckpoint.checkpoint_id == cp.id)))
    if wanted - set(allowed) - current:
        raise CheckpointError(_("One of the chosen accounts cannot be assigned to this checkpoint."), "staff")
    for uid in wanted - current:
        db.session.add(UserCheckpoint(user_id=uid, checkpoint_id=cp.id))
    for uid in current - wanted:
        db.session.delete(db.session.get(UserCheckpoint, (uid, cp.id)))
    if wanted != current:
        db.session.flush()
        audit.record("checkpoint.staff", cp, before={"staff": sorted(current)}, after={"staff": sorted(wanted)},
                     area_code=cp.commune_code, user=by)
