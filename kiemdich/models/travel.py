"""A traveller's declaration of one trip, and each time it is seen at a checkpoint."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

ID_TYPES = ("cccd", "cmnd", "passport")
SEXES = ("nam", "nu", "khac")
VEHICLES = ("xe_may", "o_to", "xe_khach", "xe_tai", "xe_dap", "khac")
SYMPTOMS = (
    "sot", "ho", "kho_tho", "dau_hong", "non", "tieu_chay", "xuat_huyet", "noi_ban",
    "mat_vi_giac", "met_moi",
)
SOURCES = ("web", "staff", "import")
DECISIONS = ("allow", "refuse", "quarantine")
CHECKPOINT_TESTS = ("none", "rapid", "pcr_pooled", "pcr_single")


class Person(db.Model):
    """One traveller across their declarations (one person, one follow-up).

    A declaration is the same person as an earlier one with the same ID number, or else with the
    same folded name, birth year and phone (kiemdich/persons.py). The keys are those of the first
    declaration, completed by later ones; blanked when all its declarations are de-identified.
    The partial unique indexes make two simultaneous first declarations meet on one row."""

    __tablename__ = "person"
    __table_args__ = (
        Index("uq_person_id_number", "id_number", unique=True,
              sqlite_where=text("id_number <> ''"), postgresql_where=text("id_number <> ''")),
        Index("uq_person_name_year_phone", "name_folded", "birth_year", "phone", unique=True,
              sqlite_where=text("name_folded <> '' AND phone <> '' AND birth_year IS NOT NULL"),
              postgresql_where=text("name_folded <> '' AND phone <> '' AND birth_year IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(20), default="")
    name_folded: Mapped[str] = mapped_column(String(120), default="")
    birth_year: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(15), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Person {self.id}>"


class Declaration(db.Model):
    """One trip declared by a traveller (khai báo di chuyển nội địa)."""

    __tablename__ = "declaration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # public, random, short
    token_id: Mapped[str] = mapped_column(String(32), unique=True)  # id inside the signed QR
    # Identity
    full_name: Mapped[str] = mapped_column(String(120))  # as typed, NFC
    search_name: Mapped[str] = mapped_column(String(120), index=True)  # folded: no case, no diacritics
    id_type: Mapped[str] = mapped_column(String(10))
    id_number: Mapped[str] = mapped_column(String(20), index=True)  # digits as a string
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_year: Mapped[int | None] = mapped_column(Integer)  # None: an imported list without it
    sex: Mapped[str] = mapped_column(String(5))
    phone: Mapped[str] = mapped_column(String(15), index=True)  # normalised 0xxxxxxxxx
    nationality: Mapped[str] = mapped_column(String(60), default="Việt Nam")
    # Contact address, origin and destination
    contact_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"))
    contact_street: Mapped[str] = mapped_column(String(200), default="")
    origin_province_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"))
    origin_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"))
    origin_street: Mapped[str] = mapped_column(String(200), default="")
    dest_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    dest_street: Mapped[str] = mapped_column(String(200), default="")
    # Trip
    travel_date: Mapped[date] = mapped_column(Date)
    vehicle_type: Mapped[str] = mapped_column(String(10))
    vehicle_plate: Mapped[str] = mapped_column(String(20), default="")
    vehicle_seat: Mapped[str] = mapped_column(String(10), default="")
    places_visited: Mapped[str] = mapped_column(Text, default="")  # last 14 days
    # Health
    symptoms: Mapped[list] = mapped_column(JSON, default=list)  # last 7 days, codes from SYMPTOMS
    exposure_case: Mapped[bool] = mapped_column(Boolean, default=False)
    exposure_market: Mapped[bool] = mapped_column(Boolean, default=False)
    exposure_care: Mapped[bool] = mapped_column(Boolean, default=False)
    vaccine_doses: Mapped[int] = mapped_column(Integer, default=0)
    last_dose_date: Mapped[date | None] = mapped_column(Date)
    recovered_date: Mapped[date | None] = mapped_column(Date)
    test_kind: Mapped[str] = mapped_column(String(12), default="")  # rapid, pcr, "" = none
    test_date: Mapped[date | None] = mapped_column(Date)
    # Provenance
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)  # khai hộ
    on_behalf_by: Mapped[str] = mapped_column(String(120), default="")
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # staff-assisted
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoint.id"))  # poster used
    consent_version: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10), default="web")
    import_row_id: Mapped[int | None] = mapped_column(ForeignKey("import_row.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)  # passage at a checkpoint only
    deidentified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)

    checkpoint: Mapped["Checkpoint | None"] = relationship()  # noqa: F821
    dest_commune: Mapped["AdminUnit | None"] = relationship(foreign_keys=[dest_commune_code])  # noqa: F821
    origin_province: Mapped["AdminUnit | None"] = relationship(foreign_keys=[origin_province_code])  # noqa: F821
    passages: Mapped[list["Passage"]] = relationship(back_populates="declaration")
    arrivals: Mapped[list["Arrival"]] = relationship(back_populates="declaration")  # noqa: F821

    def __repr__(self) -> str:
        return f"<Declaration {self.code}>"


class Passage(db.Model):
    """A declaration seen at a checkpoint. Append-only: a correction is a new row."""

    __tablename__ = "passage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: self check-in
    kind: Mapped[str] = mapped_column(String(12), default="staff")  # staff, self_checkin, import
    # confirms a self check-in; indexed: "is this check-in answered?" runs after every passage sent
    confirms_id: Mapped[int | None] = mapped_column(ForeignKey("passage.id"), index=True)
    decision: Mapped[str | None] = mapped_column(String(12))  # None while a self check-in waits
    papers_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    test_taken: Mapped[str] = mapped_column(String(12), default="none")
    instruction_code: Mapped[int | None] = mapped_column(ForeignKey("instruction.code"))
    instruction_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str] = mapped_column(Text, default="")
    transit: Mapped[bool] = mapped_column(Boolean, default=False)  # destination outside the province
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)  # idempotency key
    client_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    server_ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    note: Mapped[str] = mapped_column(Text, default="")

    declaration: Mapped[Declaration] = relationship(back_populates="passages")
    checkpoint: Mapped["Checkpoint"] = relationship()  # noqa: F821
    user: Mapped["User | None"] = relationship()  # noqa: F821
    instruction: Mapped["Instruction | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Passage {self.id} {self.decision}>"
