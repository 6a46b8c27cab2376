"""Follow-up in the destination commune: the arrival, its history and daily health checks."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

ARRIVAL_STATUSES = (
    "expected", "arrived", "monitoring", "completed", "ended_unchecked",
    "lost_contact", "transferred", "referred", "left_province",
    "merged",  # a second follow-up of the same person folded into the first (followup.operations.merge)
)
MEASURES = ("declaration_only", "self_monitoring", "home_quarantine", "central_quarantine")
CHECK_SOURCES = ("self", "phone", "visit")
TEST_RESULTS = ("", "negative", "positive", "pending")


class Arrival(db.Model):
    """A traveller expected in, or followed by, a commune (theo dõi)."""

    __tablename__ = "arrival"
    # The commune lists filter on commune and status (the composite also serves commune alone);
    # the dashboard counts arrivals by expected_at.
    __table_args__ = (Index("ix_arrival_commune_code_status", "commune_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id"), index=True)
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passage.id"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"))
    status: Mapped[str] = mapped_column(String(16), default="expected", index=True)
    # Monitoring plan, as computed from the rule in force (and possibly changed by an officer)
    measure: Mapped[str] = mapped_column(String(20), default="declaration_only")
    plan_start: Mapped[date | None] = mapped_column(Date)
    plan_end: Mapped[date | None] = mapped_column(Date)
    self_monitoring_until: Mapped[date | None] = mapped_column(Date)
    test_days: Mapped[list] = mapped_column(JSON, default=list)  # day numbers, 1 = arrival day
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_rule.id"))
    rule_version: Mapped[int | None] = mapped_column(Integer)
    instruction_code: Mapped[int | None] = mapped_column(ForeignKey("instruction.code"))
    # Arrival confirmation
    expected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_how: Mapped[str] = mapped_column(String(10), default="")  # visit, phone, self
    near_declared_commune: Mapped[bool | None] = mapped_column(Boolean)  # never a location track
    # End of monitoring and other outcomes
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # symptoms: shown first, in red
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referred_facility: Mapped[str] = mapped_column(String(160), default="")
    trip_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # 1 + its ArrivalTrip rows
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    declaration: Mapped["Declaration"] = relationship(back_populates="arrivals")  # noqa: F821
    passage: Mapped["Passage | None"] = relationship()  # noqa: F821
    commune: Mapped["AdminUnit"] = relationship()  # noqa: F821
    rule: Mapped["MonitoringRule | None"] = relationship()  # noqa: F821
    checks: Mapped[list["HealthCheck"]] = relationship(
        back_populates="arrival", order_by="HealthCheck.check_date"
    )
    events: Mapped[list["ArrivalEvent"]] = relationship(
        back_populates="arrival", order_by="ArrivalEvent.at"
    )

    def __repr__(self) -> str:
        return f"<Arrival {self.id} {self.status}>"


class ArrivalTrip(db.Model):
    """A later trip of the same person linked into an arrival still followed (one person, one
    follow-up): its declaration and passage, instead of a second arrival. The arrival's first trip
    is its own declaration_id/passage_id."""

    __tablename__ = "arrival_trip"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrival_id: Mapped[int] = mapped_column(ForeignKey("arrival.id"), index=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id"), index=True)
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passage.id"))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"))  # where this trip was going
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    declaration: Mapped["Declaration"] = relationship()  # noqa: F821


class ArrivalEvent(db.Model):
    """Append-only history of an arrival: status changes, plan changes, transfers, with reasons."""

    __tablename__ = "arrival_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrival_id: Mapped[int] = mapped_column(ForeignKey("arrival.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    arrival: Mapped[Arrival] = relationship(back_populates="events")


class HealthCheck(db.Model):
    """One daily health check. Append-only."""

    __tablename__ = "health_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrival_id: Mapped[int] = mapped_column(ForeignKey("arrival.id"), index=True)
    check_date: Mapped[date] = mapped_column(Date)  # local date, Asia/Ho_Chi_Minh
    temperature: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    symptoms: Mapped[list] = mapped_column(JSON, default=list)
    spo2: Mapped[int | None] = mapped_column(Integer)
    present: Mapped[bool | None] = mapped_column(Boolean)
    test_result: Mapped[str] = mapped_column(String(10), default="")
    test_kind: Mapped[str] = mapped_column(String(12), default="")
    source: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    arrival: Mapped[Arrival] = relationship(back_populates="checks")
