"""The queue's jobs for telling people (registered with the consumer by kiemdich/tasks.py).

A red flag is sent at once, but only once the change that made it is committed: the operations
call `red_flagged(arrival)`, which notes the arrival in the session, and the task is enqueued
after the commit (a rolled-back check tells no one, and the consumer never reads an arrival
that is not red yet). Jobs run with a session of their own: in Huey's immediate mode (tests)
they run inside the caller's commit, where its session can take no more SQL.

"""
import logging

from huey import crontab
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..extensions import db
from ..tasks import huey, job_app

log = logging.getLogger(__name__)
_KEY = "kd_red_flagged"


def red_flagged(arrival) -> None:
    """Called by the operation that turned `arrival` red; the push goes after the commit."""
    db.session.info.setdefault(_KEY, []).append(arrival)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    flagged = session.info.pop(_KEY, [])
    # The identity map's key, not `a.id`: reading an expired attribute here would emit SQL.
    ids = {inspect(a).identity[0] for a in flagged if inspect(a).identity}
    for arrival_id in sorted(ids):
        try:
            red_task(arrival_id)
        except Exception:  # noqa: BLE001  the queue is down: the commit stands, the officer sees it in red
            log.exception("could not enqueue the red-flag push of arrival %s", arrival_id)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, _previous_transaction):
    if not session.in_transaction():
        session.info.pop(_KEY, None)


def _in_own_session(fn, *args):
    """Run fn in an app context of its own, hence a session of its own (Flask-SQLAlchemy scopes
    sessions by app context), and commit what it changed (subscriptions dropped, messages kept)."""
    with job_app().app_context():
        result = fn(*args)
        db.session.commit()
        return result


@huey.task()
def red_task(arrival_id: int) -> int:
    from . import operations

    return _in_own_session(operations.red_push, arrival_id)


@huey.periodic_task(crontab(hour="0", minute="0"))  # 07:00 in Việt Nam (UTC+7)
def morning_task() -> int:
    from . import operations

    return _in_own_session(operations.morning_push)


@huey.periodic_task(crontab(hour="2", minute="0"))  # 09:00 in Việt Nam: time to have declared
def reminder_task() -> int:
    from . import operations

    return _in_own_session(operations.remind_returnees)
