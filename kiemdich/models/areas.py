"""Administrative units (a generic tree) and the epidemic level in force in each."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import AreaCode, UTCDateTime, utcnow


class AdminUnit(db.Model):
    """One administrative unit: province or commune today, or a unit of another dataset."""

    __tablename__ = "admin_unit"

    code: Mapped[str] = mapped_column(AreaCode, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # province, commune (or district in old datasets)
    division: Mapped[str] = mapped_column(String(20), default="")  # tỉnh, thành phố, xã, phường, đặc khu
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    dataset: Mapped[str] = mapped_column(String(20), default="vn2025", index=True)
    # Lower-case, no diacritics: "xa duc lieu". Search compares against this.
    search_name: Mapped[str] = mapped_column(String(160), index=True)

    parent: Mapped["AdminUnit | None"] = relationship(remote_side=[code], back_populates="children")
    children: Mapped[list["AdminUnit"]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<AdminUnit {self.code} {self.name}>"


class AreaLevel(db.Model):
    """The epidemic level of a province or commune over a period (history is kept)."""

    __tablename__ = "area_level"
    __table_args__ = (Index("ix_area_level_lookup", "area_code", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"))
    level: Mapped[int] = mapped_column(Integer)  # 1-4; 5 means lockdown (phong tỏa)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[AdminUnit] = relationship()
    set_by: Mapped["User | None"] = relationship()  # noqa: F821
