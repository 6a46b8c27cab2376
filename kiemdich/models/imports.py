"""Spreadsheet imports: a batch per uploaded file, a row per line, saved column mappings."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class ImportProfile(db.Model):
    """A named column mapping, saved per source of files."""

    __tablename__ = "import_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    # checkpoint name as written in the files (folded) -> checkpoint id
    checkpoints: Mapped[dict | None] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportBatch(db.Model):
    """One uploaded file on its way from dry run to commit."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256: re-uploads are detected
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("import_profile.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoint.id"))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rows: Mapped[list["ImportRow"]] = relationship(back_populates="batch", order_by="ImportRow.row_number")


class ImportRow(db.Model):
    """One line of an imported file, its problems and where it went."""

    __tablename__ = "import_row"
    # A batch's rows in file order, a chunk at a time (the composite also serves batch_id alone).
    __table_args__ = (Index("ix_import_row_batch_id_row_number", "batch_id", "row_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="new")  # new, duplicate, triage, invalid, imported
    errors: Mapped[list] = mapped_column(JSON, default=list)
    resolved_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_unit.code"))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declaration.id"))

    batch: Mapped[ImportBatch] = relationship(back_populates="rows")


class ImportAnalysis(db.Model):
    """The dry run's reading of one chunk of a batch's rows (imports/analysis.py), kept so the commit
    need not parse every row again when nothing the reading depends on changed. It copies the
    rows' personal data: deleted by the commit, a new dry run, a cancel, and retention."""

    __tablename__ = "import_analysis"

    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), primary_key=True)
    after: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # the chunk follows this row number
    fingerprint: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportJob(db.Model):
    """The running job of a batch: progress, lease and the uploaded file, in a row of its own.

    The job's long transaction writes import_batch (mapping, status); progress and the lease are
    written on another connection while it runs, so they must live in a row that transaction never
    locks, or the progress update would wait on the job's own lock for ever (PostgreSQL).
    """

    __tablename__ = "import_job"

    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), primary_key=True)
    job: Mapped[str] = mapped_column(String(16), default="read")  # read, dry_run, commit
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    profile_id: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a running job renews it
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file: Mapped[bytes | None] = mapped_column(LargeBinary)  # the upload, until its rows are stored
