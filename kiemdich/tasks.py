"""The job queue: Huey, with its consumer as a process of its own next to gunicorn.

    huey_consumer kiemdich.tasks.huey -w 2        (what `make run` and deploy/systemd start)

Storage: Redis when REDIS_URL is set (every node's web process and consumer share it), else a
SQLite file `huey.db` in the instance folder (one machine; `KIEMDICH_QUEUE_FILE` names another).
Tests run the tasks in Huey's immediate mode (in the caller) and, once, through a real consumer.

The tasks only find the app and call plain functions: imports (jobs.py), large exports
(exports/jobs.py), the daily end-of-monitoring rule and retention, and the recovery of import jobs
whose process died (`recover_stale`), checked when the consumer starts and every minute.
"""
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app, has_app_context
from huey import RedisHuey, SqliteHuey, crontab
from huey.storage import SqliteStorage

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT_KEY = "kiemdich:consumer-last-seen"


def _make_huey():
    queue_file = os.environ.get("KIEMDICH_QUEUE_FILE")
    redis_url = os.environ.get("REDIS_URL")
    if redis_url and not queue_file:
        return RedisHuey("kiemdich", url=redis_url)
    if not queue_file:
        instance = Path(os.environ.get("KIEMDICH_INSTANCE", str(ROOT / "instance")))
        instance.mkdir(parents=True, exist_ok=True)
        queue_file = str(instance / "huey.db")
    return SqliteHuey("kiemdich", filename=queue_file)


huey = _make_huey()


def use_sqlite_file(path) -> None:
    """Point this process's queue at a SQLite file (tests and benches sharing it with a consumer)."""
    huey._immediate = False
    huey.storage = SqliteStorage(huey.name, filename=str(path))


_app = None


def job_app():
    """The app a task runs in: the caller's in immediate mode, else one created per consumer process."""
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app


# ---------------------------------------------------------------- imports


@huey.task(context=True)
def import_task(batch_id: int, task=None) -> None:
    """Run the batch's current job (read, dry run or commit) as its ImportJob row says."""
    from .imports import jobs

    with job_app().app_context():
        jobs.run(batch_id)


@huey.on_startup()
def _on_startup() -> None:
    beat()
    recover()
    # A job killed just before this start still holds an unexpired lease: look again once it ran out.
    recover_task.schedule(delay=_lease_seconds() + 1)


@huey.task()
def recover_task() -> int:
    return recover()


def _lease_seconds() -> int:
    with job_app().app_context():
        return int(current_app.config.get("KIEMDICH_JOB_LEASE_SECONDS", 60))


@huey.periodic_task(crontab(minute="*"))
def every_minute() -> None:
    """The consumer's heartbeat, and jobs whose process died are failed (resumable)."""
    beat()
    recover()


def recover() -> int:
    from .imports import jobs

    try:
        with job_app().app_context():
            return jobs.recover_stale(pending=pending_batches())
    except Exception:  # noqa: BLE001  a database hiccup: the next minute tries again
        log.exception("recovering stale import jobs failed")
        return 0


def pending_batches() -> set[int]:
    """Batches whose import task waits in the queue (not yet taken by a worker)."""
    found = set()
    for task in huey.pending():
        if task.name.endswith("import_task") and task.args:
            found.add(task.args[0])
    return found


# ---------------------------------------------------------------- consumer heartbeat


def beat() -> None:
    huey.storage.put_data(HEARTBEAT_KEY, datetime.now(timezone.utc).isoformat().encode())


def consumer_last_seen() -> datetime | None:
    """When a consumer last ran its minute task (or started): None if never. For /readyz:
    a consumer is alive if this is less than ~2 minutes old."""
    value = huey.storage.peek_data(HEARTBEAT_KEY)
    if not isinstance(value, bytes):  # huey's EmptyData
        return None
    return datetime.fromisoformat(value.decode())


# ---------------------------------------------------------------- daily rules


@huey.periodic_task(crontab(hour="17", minute="5"))  # 00:05 in Việt Nam (UTC+7): the day just ended
def end_rule_task() -> int:
    from . import daily

    with job_app().app_context():
        return daily.end_rule()


@huey.periodic_task(crontab(hour="19", minute="15"))  # 02:15 in Việt Nam
def retention_task() -> int | None:
    """De-identification after KIEMDICH_RETENTION_DAYS (unset: the province has not decided, nothing runs)."""
    from . import daily

    with job_app().app_context():
        days = current_app.config.get("KIEMDICH_RETENTION_DAYS")
        if days in (None, ""):
            return None
        return daily.retention(int(days))


# ---------------------------------------------------------------- exports


@huey.task()
def export_task(export_id: str) -> None:
    from .exports import jobs

    with job_app().app_context():
        jobs.run(export_id)


# ---------------------------------------------------------------- notifications (push, SMS)

from .notify import tasks as _notify_tasks  # noqa: E402,F401  registers them with this consumer
