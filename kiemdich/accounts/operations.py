"""State changes on accounts: plain functions, no request parsing, each audited."""
from datetime import timedelta

from sqlalchemy import select

from .. import audit
from ..clock import utcnow
from ..extensions import db
from ..models import AdminUnit, Checkpoint, User, UserArea, UserCheckpoint
from ..models.users import ROLES
from .passwords import MIN_LENGTH, check_password, hash_password, needs_rehash


class AccountError(ValueError):
    """A request that cannot be carried out; the message is shown to the user."""


def _describe(user: User) -> dict:
    return {"username": user.username, "role": user.role, "active": user.active,
            "areas": user.area_codes, "checkpoints": user.checkpoint_ids}


def create_user(username: str, password: str, role: str, *, full_name: str = "", phone: str = "",
                area_codes=(), checkpoint_ids=(), by=None) -> User:
    """Issue an account with its scope."""
    from flask_babel import gettext as _

    username = username.strip().lower()
    if role not in ROLES:
        raise AccountError(_("Unknown role."))
    if len(password) < MIN_LENGTH:
        raise AccountError(_("The password must have at least %(n)s characters.", n=MIN_LENGTH))
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(_("The username %(u)s is already taken.", u=username))
    if role in ("supervisor", "commune") and not area_codes:
        raise AccountError(_("Choose at least one area for this role."))
    if role == "checkpoint" and not checkpoint_ids:
        raise AccountError(_("Choose at least one checkpoint for this role."))
    if role != "checkpoint" and area_codes:
        known = set(db.session.scalars(select(AdminUnit.code).where(
            AdminUnit.code.in_(list(area_codes)), AdminUnit.kind.in_(("province", "commune")))))
        if known != set(area_codes):  # an unknown code would break the foreign key: a 500
            raise AccountError(_("Choose existing communes or provinces."))
    user = User(username=username, password_hash=hash_password(password), role=role,
                full_name=full_name.strip(), phone=phone)
    user.areas = [UserArea(area_code=c) for c in dict.fromkeys(area_codes)] if role != "checkpoint" else []
    if role == "checkpoint":
        known = set(db.session.scalars(select(Checkpoint.id).where(Checkpoint.id.in_(checkpoint_ids))))
        if known != set(checkpoint_ids):
            raise AccountError(_("Unknown checkpoint."))
        user.checkpoints = [UserCheckpoint(checkpoint_id=i) for i in dict.fromkeys(checkpoint_ids)]
    db.session.add(user)
    db.session.flush()
    audit.record("account.create", user, after=_describe(user), user=by)
    return user


def reset_password(user: User, password: str, *, by=None) -> None:
    """Set a new password; the user's open sessions end."""
    from flask_babel import gettext as _

    if len(password) < MIN_LENGTH:
        raise AccountError(_("The password must have at least %(n)s characters.", n=MIN_LENGTH))
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    audit.record("account.reset_password", user, user=by)


def set_active(user: User, active: bool, *, by=None) -> None:
    """Deactivate (sessions end at once) or reactivate an account. Idempotent."""
    if user.active == active:
        return
    before = _describe(user)
    user.active = active
    user.session_version += 1
    audit.record("account.activate" if active else "account.deactivate", user,
                 before=before, after=_describe(user), user=by)


def lock_delay(failures: int, free: int, base_seconds: int) -> timedelta:
    """How long an account waits after `failures` wrong passwords: none, then doubling."""
    if failures < free:
        return timedelta(0)
    return timedelta(seconds=base_seconds * 2 ** min(failures - free, 10))


def authenticate(username: str, password: str, *, free: int = 5, base_seconds: int = 30):
    """Check a sign-in. Returns (user, None) or (None, reason) with reason in
    {"invalid", "locked", "inactive"}; failures and successes are audited."""
    username = (username or "").strip().lower()
    user = db.session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None:
        hash_password(password or "x")  # same work as a real check: no user enumeration by timing
        audit.record("auth.failed", object_type="User", detail=username[:64])
        return None, "invalid"
    if user.locked_until and user.locked_until > now:
        audit.record("auth.locked", user, user=user)
        return None, "locked"
    if not check_password(user.password_hash, password or ""):
        user.failed_logins += 1
        delay = lock_delay(user.failed_logins, free, base_seconds)
        user.locked_until = now + delay if delay else None
        audit.record("auth.failed", user, user=user, detail=f"failures={user.failed_logins}")
        return None, "invalid"
    if not user.active:
        audit.record("auth.inactive", user, user=user)
        return None, "inactive"
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("auth.login", user, user=user)
    return user, None
