"""Policy as data: versioned monitoring rules and the instruction codes a checkpoint prints."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

VACCINATION = ("full", "partial", "none", "recovered")


class Instruction(db.Model):
    """An instruction code handed out at the checkpoint (1-8 in the 2021 provincial system)."""

    __tablename__ = "instruction"

    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(160))
    measure: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer, default=0)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)


class MonitoringRule(db.Model):
    """One line of a rule set: origin level and vaccination status give a measure."""

    __tablename__ = "monitoring_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)  # the rule set this line belongs to
    name: Mapped[str] = mapped_column(String(160), default="")
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    origin_level: Mapped[int] = mapped_column(Integer)  # 1-4, 5 = lockdown
    vaccination: Mapped[str] = mapped_column(String(10))
    measure: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer, default=0)
    self_monitoring_days_after: Mapped[int] = mapped_column(Integer, default=0)
    test_days: Mapped[list] = mapped_column(JSON, default=list)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    instruction_code: Mapped[int | None] = mapped_column(ForeignKey("instruction.code"))
    source: Mapped[str] = mapped_column(Text, default="")  # the decision it implements
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
