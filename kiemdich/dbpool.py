"""Database connections checked before use only when they may have gone stale.

SQLAlchemy's pool_pre_ping pings on every checkout: one more round trip on every request of a
busy server, ~10 % of a passage write. A connection used a moment ago is alive; one that sat in
the pool (a database restart, a proxy's idle timeout) is pinged first, and replaced when the ping
fails, so the request still never meets a dead connection.
"""
import time

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

_CHECKED_IN = "kiemdich.checked_in"


def ping_after_idle(engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout when it was idle more than idle_seconds."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since <= idle_seconds:
            return  # fresh from connect(), or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as err:  # noqa: BLE001  (any driver error means the connection is gone)
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError() from err


def init_app(app) -> None:
    """Bind the idle ping to every engine of the app (the primary and a replica)."""
    from .extensions import db

    idle = float(app.config.get("KIEMDICH_DB_IDLE_PING_SECONDS", 10))
    with app.app_context():
        for engine in db.engines.values():
            ping_after_idle(engine, idle)
