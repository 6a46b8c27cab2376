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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on password reset or deactivation: sessions carrying an older value end.
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
