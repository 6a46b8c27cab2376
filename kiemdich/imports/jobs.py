"""Import steps as jobs of the queue (kiemdich/tasks.py); progress and lease in the ImportJob row.

`start` records what to run in the batch's ImportJob row, sets the batch running and enqueues the
task; a consumer process runs `run`. Progress and the lease are written on a connection of their
own into import_job, a row the job's transaction never writes, so they never wait on the job's
locks (the job's transaction does update import_batch: a progress update there waited for ever).

A job whose process died (kill -9, out of memory, a node lost) leaves a lease that runs out:
`recover_stale` marks its batch failed with "interrupted:<job>", and the user resumes it (the same
job again) or cancels it. Each job runs in one transaction with the batch row locked, so a killed
job left nothing, and a commit run twice writes once (the second finds the batch committed).
"""
import logging
import threading
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..clock import utcnow
from ..extensions import db
from ..models import ImportBatch, ImportJob, ImportProfile, User
from . import operations, sandbox
from .reader import FileProblem

log = logging.getLogger(__name__)
RUNNING = {"read": "reading", "dry_run": "analysing", "commit": "committing"}
JOBS = tuple(RUNNING)


def _lease_seconds() -> int:
    return int(current_app.config.get("KIEMDICH_JOB_LEASE_SECONDS", 60))


def set_progress(batch_id: int, **values) -> None:
    """Write the job's row on a connection of its own (shown while the job's transaction is open)."""
    table = ImportJob.__table__
    values.setdefault("updated_at", utcnow())
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.batch_id == batch_id).values(**values))


def _set_batch(batch_id: int, **values) -> None:
    table = ImportBatch.__table__
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == batch_id).values(**values))


def start(batch: ImportBatch, job: str, user_id: int | None, *, profile_id: int | None = None,
          file: bytes | None = None) -> None:
    """Set the batch running, record the job, commit, and enqueue it (the caller's session)."""
    from ..tasks import import_task

    row = db.session.get(ImportJob, batch.id)
    if row is None:
        row = ImportJob(batch_id=batch.id, attempts=0)
        db.session.add(row)
    row.job, row.user_id, row.processed_rows = job, user_id, 0
    row.total_rows = 0 if job == "read" else batch.total_rows  # a read learns it from the file
    if job == "read":
        row.profile_id = profile_id
    if file is not None:
        row.file = file
    row.lease_until, row.updated_at = None, utcnow()  # queued: no lease until a worker takes it
    batch.status, batch.error = RUNNING[job], ""
    if job == "read":
        batch.total_rows = 0
    batch_id = batch.id
    db.session.commit()  # and no read after it: in immediate mode the job runs now, then we look
    import_task(batch_id)


def resume(batch: ImportBatch, user_id: int | None) -> str:
    """Run the interrupted job again (its ImportJob row says which); returns the job."""
    row = db.session.get(ImportJob, batch.id)
    if row is None or batch.status != "failed" or not batch.error.startswith("interrupted:"):
        raise operations.ImportFailure("state")
    if row.job == "commit":
        batch.status = "analysed"  # commit() re-runs the rules on the current database anyway
    start(batch, row.job, user_id or row.user_id)
    return row.job


class Heartbeat(threading.Thread):
    """Renews the job's lease every third of it while the job runs, on its own connection."""

    def __init__(self, app, batch_id: int, seconds: int):
        super().__init__(name=f"kiemdich-lease-{batch_id}", daemon=True)
        self.app, self.batch_id, self.seconds = app, batch_id, seconds
        self.done = threading.Event()

    def run(self) -> None:
        with self.app.app_context():
            while not self.done.wait(self.seconds / 3):
                try:
                    set_progress(self.batch_id, lease_until=utcnow() + timedelta(seconds=self.seconds))
                except Exception:  # noqa: BLE001  SQLite busy while the job writes: next time
                    log.debug("lease renewal of batch %s skipped", self.batch_id)


def run(batch_id: int) -> None:
    """The batch's recorded job, in this app context's session; any failure rolls back and is recorded."""
    lease = _lease_seconds()
    set_progress(batch_id, lease_until=utcnow() + timedelta(seconds=lease), attempts=ImportJob.attempts + 1)
    heartbeat = Heartbeat(current_app._get_current_object(), batch_id, lease)
    heartbeat.start()
    try:
        _run(batch_id)
    finally:
        heartbeat.done.set()
        heartbeat.join()
        db.session.remove()


def _progress(job: str, batch_id: int):
    # SQLite has one writer at a time: while the job's own transaction writes, a second
    # connection would wait on it, so only the read-only dry run reports row counts there.
    if db.engine.dialect.name == "sqlite" and job != "dry_run":
        return None
    lease = _lease_seconds()
    return lambda n: set_progress(batch_id, processed_rows=n,
                                  lease_until=utcnow() + timedelta(seconds=lease))


def _run(batch_id: int) -> None:
    job_row = db.session.get(ImportJob, batch_id)
    job = job_row.job
    # The batch row is locked for the whole job: a second run of the same job (enqueued twice,
    # resumed while the first still ran) waits, then finds the batch no longer in its state.
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.id == batch_id).with_for_update()
                              .execution_options(populate_existing=True))
    if batch is None or batch.status != RUNNING[job]:
        db.session.rollback()
        return
    user = db.session.get(User, job_row.user_id) if job_row.user_id else None
    progress = _progress(job, batch_id)
    try:
        if job == "read":
            _read(batch, job_row, progress)
        elif job == "dry_run":
            operations.dry_run(batch, user, progress=progress)
        elif job == "commit":
            operations.commit(batch, user, progress=progress)
        db.session.commit()
    except FileProblem as err:
        db.session.rollback()
        _set_batch(batch_id, status="refused", error=err.code)
        set_progress(batch_id, file=None, lease_until=None)
        return
    except Exception as err:  # noqa: BLE001  anything else: nothing half-written, and say so
        db.session.rollback()
        log.exception("import %s of batch %s failed", job, batch_id)
        _set_batch(batch_id, status="refused" if job == "read" else "failed",
                   error=f"{job}_failed:{type(err).__name__}")
        set_progress(batch_id, lease_until=None)
        return
    # The upload is kept until its rows are stored: an interrupted read is resumed from it.
    set_progress(batch_id, lease_until=None, **({"file": None} if job == "read" else {}))


def _read(batch: ImportBatch, job_row: ImportJob, progress) -> None:
    config = current_app.config
    data = job_row.file
    if data is None:
        raise FileProblem("corrupt")
    table, header = sandbox.parse(data, memory_mb=config.get("KIEMDICH_IMPORT_MEMORY_MB", 1536),
                                  max_unzipped=config.get("KIEMDICH_IMPORT_MAX_UNZIPPED"),
                                  filename=batch.filename)
    del data
    db.session.expire(job_row, ["file"])
    set_progress(batch.id, total_rows=max((table.height or len(table.rows)) - header.index - 1, 0))
    profile = db.session.get(ImportProfile, job_row.profile_id) if job_row.profile_id else None
    operations.store_rows(batch, table, header, profile=profile, progress=progress)


def recover_stale(pending: set[int] = frozenset()) -> int:
    """Fail (resumable) every running batch whose job died: its lease ran out, or it was queued
    and is no longer in the queue. Batches a live job holds locked are skipped (PostgreSQL)."""
    now = utcnow()
    # A worker that just took a task may need seconds (a consumer's first task creates the app)
    # before the job sets its lease: a queued job is lost only once missing from the queue for long.
    grace = now - timedelta(seconds=max(60, 2 * _lease_seconds()))
    stmt = (select(ImportBatch, ImportJob).join(ImportJob, ImportJob.batch_id == ImportBatch.id)
            .where(ImportBatch.status.in_(RUNNING.values())).order_by(ImportBatch.id)
            .with_for_update(of=ImportBatch, skip_locked=True))
    failed = 0
    for batch, job_row in db.session.execute(stmt).all():
        if job_row.lease_until is not None:
            dead = job_row.lease_until < now
        else:  # queued: lost if no longer waiting in the queue (and not just taken by a worker)
            dead = batch.id not in pending and (job_row.updated_at or now) < grace
        if dead:
            log.warning("import %s of batch %s died: marked failed, resumable", job_row.job, batch.id)
            batch.status, batch.error = "failed", f"interrupted:{job_row.job}"
            job_row.lease_until = None
            failed += 1
    db.session.commit()
    return failed
