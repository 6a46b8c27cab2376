"""Checkpoints (chốt kiểm dịch) and the public codes their posters carry."""
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class Checkpoint(db.Model):
    """A checkpoint on a road into the province."""

    __tablename__ = "checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # public, random, on the poster
    name: Mapped[str] = mapped_column(String(160))
    commune_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    road: Mapped[str] = mapped_column(String(160), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    poster_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    commune: Mapped["AdminUnit"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Checkpoint {self.code} {self.name}>"


class RetiredCheckpointCode(db.Model):
    """A code a checkpoint used before rotation: old posters then show a clear message."""

    __tablename__ = "retired_checkpoint_code"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"))
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    checkpoint: Mapped[Checkpoint] = relationship()
