"""Accounts: issued by an admin, each with a role and a scope."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

ROLES = ("admin", "supervisor", "checkpoint", "commune")


class User(UserMixin, db.Model):
    """A staff account; travellers have none."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(15), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on password reset, deactivation or "sign out everywhere": sessions carrying an older
    # value end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    areas: Mapped[list["UserArea"]] = relationship(back_populates="user", cascade="all, delete-orphan")
    checkpoints: Mapped[list["UserCheckpoint"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def area_codes(self) -> list[str]:
        return [a.area_code for a in self.areas]

    @property
    def checkpoint_ids(self) -> list[int]:
        return [c.checkpoint_id for c in self.checkpoints]

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class UserArea(db.Model):
    """One administrative unit in a user's scope (a province, or one of several communes)."""

    __tablename__ = "user_area"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="areas")
    area: Mapped["AdminUnit"] = relationship()  # noqa: F821


class UserCheckpoint(db.Model):
    """One checkpoint in a checkpoint user's scope."""

    __tablename__ = "user_checkpoint"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="checkpoints")
    checkpoint: Mapped["Checkpoint"] = relationship()  # noqa: F821


class UserSession(db.Model):
    """One sign-in. The cookie carries a random token; its SHA-256 is the id here, so a sign-out
    ends this row and a copy of the cookie taken before is refused afterwards."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The hard end (sign-in time + KIEMDICH_SESSION_HOURS), whatever the activity.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailure(db.Model):
    """Wrong passwords counted per user name typed (known or not, so both answer alike): one row per
    (name, source address), and one account-wide row with source "*" whose ceiling is much higher.
    Counted with one atomic upsert, never read-modify-write."""

    __tablename__ = "sign_in_failure"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
