"""Import steps run in a background thread; progress and outcome are stored on the batch.

A thread in the web process is enough for one province (a 100,000-row file takes a minute or
two); the page polls the batch row, so any node can show the progress bar.
"""
import logging
import threading

from sqlalchemy import update

from ..extensions import db
from ..models import ImportBatch, ImportProfile, User
from . import operations
from .reader import FileProblem

log = logging.getLogger(__name__)
RUNNING = {"read": "reading", "dry_run": "analysing", "commit": "committing"}
threads: dict[int, threading.Thread] = {}  # batch id -> its running thread (tests join them)


def set_progress(batch_id: int, **values) -> None:
    """Write progress on a connection of its own, so it shows while the job's transaction is open."""
    table = ImportBatch.__table__
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == batch_id).values(**values))


def start(app, job: str, batch_id: int, user_id: int | None, *, data=None,
          profile_id: int | None = None) -> threading.Thread | None:
    """Mark the batch as running and start the job (inline when KIEMDICH_IMPORTS_INLINE is set)."""
    set_progress(batch_id, status=RUNNING[job], processed_rows=0, error="")
    if app.config.get("KIEMDICH_IMPORTS_INLINE"):
        db.session.rollback()  # the caller has committed; end its read snapshot so it sees the job's writes
        run(app, job, batch_id, user_id, data, profile_id)
        return None
    thread = threading.Thread(target=run, args=(app, job, batch_id, user_id, data, profile_id),
                              name=f"kiemdich-import-{batch_id}-{job}", daemon=True)
    threads[batch_id] = thread
    thread.start()
    return thread


def run(app, job, batch_id, user_id, data=None, profile_id=None) -> None:
    """The job in its own app context and session; any failure rolls back and is recorded."""
    with app.app_context():
        try:
            _run(job, batch_id, user_id, data, profile_id)
        finally:
            db.session.remove()
            threads.pop(batch_id, None)


def _progress(job: str, batch_id: int):
    # SQLite has one writer at a time: while the job's own transaction writes, a second
    # connection would wait on it, so only the read-only dry run reports row counts there.
    if db.engine.dialect.name == "sqlite" and job != "dry_run":
        return None
    return lambda n: set_progress(batch_id, processed_rows=n)


def _run(job, batch_id, user_id, data, profile_id) -> None:
    batch = db.session.get(ImportBatch, batch_id)
    user = db.session.get(User, user_id) if user_id else None
    progress = _progress(job, batch_id)
    try:
        if job == "read":
            profile = db.session.get(ImportProfile, profile_id) if profile_id else None
            table, header = data  # parsed in the request, which already refused a bad file
            operations.store_rows(batch, table, header, profile=profile, progress=progress)
        elif job == "dry_run":
            operations.dry_run(batch, user, progress=progress)
        elif job == "commit":
            operations.commit(batch, user, progress=progress)
        db.session.commit()
    except FileProblem as err:
        db.session.rollback()
        set_progress(batch_id, status="refused", error=err.code)
    except Exception as err:  # noqa: BLE001  anything else: nothing half-written, and say so
        db.session.rollback()
        log.exception("import %s of batch %s failed", job, batch_id)
        set_progress(batch_id, status="refused" if job == "read" else "failed",
                     error=f"{job}_failed:{type(err).__name__}")
