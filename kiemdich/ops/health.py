"""/healthz and /readyz for the load balancer.

/healthz: the process answers (a liveness probe; restart the node when it fails).
/readyz: the node can serve: the database answers, its schema is at the code's Alembic head,
Redis answers or the rate limiter knowingly counts in memory, and the task-queue consumer was
seen recently. 200 with each check's state, or 503 naming the failed check (take the node out).

The queue check is pluggable: whatever runs background tasks registers a function that returns
the time (timezone-aware, UTC) its consumer last showed a heartbeat, or None before the first one:

    from kiemdich.ops.health import set_queue_heartbeat
    set_queue_heartbeat(app, lambda: read_last_heartbeat_from_redis_or_db())

Until one is registered the check says "not configured"; until the first heartbeat, "unknown";
neither fails readiness. A heartbeat older than KIEMDICH_QUEUE_STALE_SECONDS does.
"""
import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .. import limits
from ..extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
_HEARTBEAT = "kiemdich.queue_heartbeat"
_HEADS = "kiemdich.alembic_heads"


def set_queue_heartbeat(app, last_seen) -> None:
    """Register `last_seen() -> datetime | None`, the queue consumer's latest heartbeat."""
    app.extensions[_HEARTBEAT] = last_seen


def _code_heads() -> set[str]:
    heads = current_app.extensions.get(_HEADS)
    if heads is None:
        from alembic.script import ScriptDirectory

        heads = set(ScriptDirectory(current_app.extensions["migrate"].directory).get_heads())
        current_app.extensions[_HEADS] = heads
    return heads


def check_database() -> tuple[str, str]:
    """(database state, migrations state)."""
    try:
        db.session.execute(text("SELECT 1"))
        versions = {row[0] for row in db.session.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # noqa: BLE001  any failure means not ready; the reason goes to the log
        log.exception("readiness: database check failed")
        db.session.rollback()
        return "fail", "unknown"
    return "ok", "ok" if versions == _code_heads() else "behind"


def check_redis() -> str:
    if current_app.config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        return "not configured"
    if limits.storage_dead():
        return "fallback"
    if limiter.storage.check():
        return "ok"
    # The limiter switches to memory at its next request; without the fallback it would fail.
    return "fallback" if current_app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED") else "fail"


def check_queue() -> str:
    last_seen = current_app.extensions.get(_HEARTBEAT)
    if last_seen is None:
        return "not configured"
    try:
        moment = last_seen()
    except Exception:  # noqa: BLE001
        log.exception("readiness: queue heartbeat could not be read")
        return "fail"
    if moment is None:
        return "unknown"
    age = (datetime.now(timezone.utc) - moment).total_seconds()
    return "ok" if age <= current_app.config["KIEMDICH_QUEUE_STALE_SECONDS"] else "stale"


READY_STATES = {"ok", "fallback", "not configured", "unknown"}


@bp.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/readyz")
def readyz():
    database, migrations = check_database()
    checks = {"database": database, "migrations": migrations, "redis": check_redis(), "queue": check_queue()}
    ready = all(state in READY_STATES for state in checks.values())
    response = jsonify(ready=ready, checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
