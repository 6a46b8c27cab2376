"""State changes on accounts: plain functions, no request parsing, each audited."""
import hashlib
import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import audit
from ..clock import utcnow
from ..extensions import db
from ..models import AdminUnit, Checkpoint, SignInFailure, User, UserArea, UserCheckpoint, UserSession
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
    db.session.execute(delete(SignInFailure).where(SignInFailure.username == user.username))
    end_every_session(user, audited=False)
    audit.record("account.reset_password", user, user=by)


def set_active(user: User, active: bool, *, by=None) -> None:
    """Deactivate (sessions end at once) or reactivate an account. Idempotent."""
    if user.active == active:
        return
    before = _describe(user)
    user.active = active
    end_every_session(user, audited=False)
    audit.record("account.activate" if active else "account.deactivate", user,
                 before=before, after=_describe(user), user=by)


def lock_delay(failures: int, free: int, base_seconds: int) -> timedelta:
    """How long a name (from one address, or account-wide) waits after `failures` wrong passwords:
    none, then doubling, at most 2**10 times the base."""
    if failures < free:
        return timedelta(0)
    return timedelta(seconds=base_seconds * 2 ** min(failures - free, 10))


ACCOUNT = "*"  # the source of the account-wide counter: never an address
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash of nothing anyone knows, with the same parameters as real ones: unknown names pay the
    same argon2 verification as known ones."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def _count_failure(username: str, source: str, now, free: int, base_seconds: int) -> int:
    """Add one failure atomically (INSERT ... ON CONFLICT DO UPDATE SET failures = failures + 1
    RETURNING): simultaneous wrong passwords each count. Returns the new count."""
    table = SignInFailure.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(table).values(username=username, source=source, failures=1, updated_at=now)
            .on_conflict_do_update(index_elements=[table.c.username, table.c.source],
                                   set_={"failures": table.c.failures + 1, "updated_at": now})
            .returning(table.c.failures))
    failures = db.session.execute(stmt).scalar_one()
    delay = lock_delay(failures, free, base_seconds)
    if delay:  # only ever lengthened: a slower request with a smaller count cannot shorten it
        until = now + delay
        db.session.execute(update(table).where(
            table.c.username == username, table.c.source == source,
            or_(table.c.locked_until.is_(None), table.c.locked_until < until)).values(locked_until=until))
    return failures


def authenticate(username: str, password: str, *, source: str = "", known=(), free: int = 5,
                 base_seconds: int = 30, account_free: int = 100):
    """Check a sign-in from address `source`. Returns (user, None) or (None, reason) with reason in
    {"invalid", "locked", "inactive"}; failures and successes are audited.

    Unknown and known names take the same path (an argon2 verification, the same counters, the same
    answers), so neither the status, the message nor the time tells whether an account exists.
    Wrong passwords are counted per (name, address), which locks after `free` failures, and per name
    alone, which locks only after `account_free`: someone elsewhere cannot lock an officer out of
    their own phone, and a browser where the account signed in before (its id in `known`, from a
    signed cookie) is not held by the account-wide lock at all."""
    username = (username or "").strip().lower()[:64]
    source = (source or "")[:64]
    user = db.session.scalar(select(User).where(User.username == username))
    now = utcnow()
    right = check_password(user.password_hash if user else _dummy(), password or "")
    locks = dict(db.session.execute(select(SignInFailure.source, SignInFailure.locked_until).where(
        SignInFailure.username == username, SignInFailure.source.in_((source, ACCOUNT)))).all())
    held = [key for key, until in locks.items() if until and until > now]
    locked = source in held or (ACCOUNT in held and not (user is not None and user.id in known))
    if user is None or not right:
        failures = _count_failure(username, source, now, free, base_seconds)
        _count_failure(username, ACCOUNT, now, account_free, base_seconds)
        # The typed name is kept only when it is an account's: a password typed into the name field
        # must not end up in the audit trail.
        audit.record("auth.failed", user, object_type="User", user=user, detail=f"failures={failures}")
        return None, "locked" if locked else "invalid"
    if locked:
        audit.record("auth.locked", user, user=user)
        return None, "locked"
    if not user.active:
        audit.record("auth.inactive", user, user=user)
        return None, "inactive"
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.execute(delete(SignInFailure).where(
        SignInFailure.username == username, SignInFailure.source.in_((source, ACCOUNT))))
    # Old counters of anyone (unknown names included) go after a day without failures.
    db.session.execute(delete(SignInFailure).where(
        SignInFailure.updated_at < now - timedelta(days=1),
        or_(SignInFailure.locked_until.is_(None), SignInFailure.locked_until < now)))
    user.last_login_at = now
    audit.record("auth.login", user, user=user)
    return user, None


# ---------------------------------------------------------------- sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, hours: float) -> str:
    """Open a server-side session ending `hours` after now whatever the activity; returns the token
    the cookie carries (only its hash is stored)."""
    now = utcnow()
    db.session.execute(delete(UserSession).where(  # the user's finished sessions are of no use
        UserSession.user_id == user.id, or_(UserSession.expires_at < now, UserSession.ended_at.is_not(None))))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(id=_digest(token), user_id=user.id, created_at=now,
                               expires_at=now + timedelta(hours=hours)))
    return token


@cache
def _session_user():
    """open_session_user's statement, built once (every signed-in request sends it)."""
    return (select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
            .where(User.id == bindparam("user_id"), UserSession.id == bindparam("session_id")))


def open_session_user(user_id: int, version: int, token: str | None) -> User | None:
    """The user of a cookie whose session is open: one query for the account and its session row
    (every signed-in request pays it, so not two)."""
    if not token or not isinstance(token, str):
        return None
    found = db.session.execute(_session_user(), {"user_id": user_id, "session_id": _digest(token)}).first()
    if found is None:
        return None
    user, row = found
    # A password reset, deactivation or "sign out everywhere" bumps the version and so ends every
    # open session; a sign-out ends its own session row, so a copy of its cookie is refused too.
    if user.session_version != version or not user.active or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return user


def end_session(user: User | None, token: str | None) -> None:
    """Sign-out: the session ends here, so a copy of the cookie is refused from now on."""
    if token and isinstance(token, str):
        db.session.execute(update(UserSession).where(UserSession.id == _digest(token),
                                                     UserSession.ended_at.is_(None)).values(ended_at=utcnow()))
    if user is not None:
        audit.record("auth.logout", user, user=user)


def end_every_session(user: User, *, by=None, audited: bool = True) -> None:
    """Sign `user` out on every device: the session version (in every cookie) moves on and every
    open session row ends."""
    user.session_version += 1
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.ended_at.is_(None)).values(ended_at=utcnow()))
    if audited:
        audit.record("account.sign_out_everywhere", user, user=by)
