"""Read-only queries on a PostgreSQL replica (DATABASE_REPLICA_URL), when one is configured.

The dashboard, its drill-down lists and the exports only read, and they read a lot; with a replica
(streaming replication, a hot standby) their queries run there and leave the primary to the
checkpoints and the communes. Views opt in with `reads_replica` (placed under `role_required`, so
the signed-in user is still loaded from the primary). Inside it, the session sends every plain
SELECT to the replica; writes, flushes, and SELECT ... FOR UPDATE always go to the primary.
Without DATABASE_REPLICA_URL everything goes to the primary, as before.

The replica lags the primary by a little: what a supervisor just changed may show a moment later.
"""
from contextlib import contextmanager
from functools import wraps

from flask import current_app, g, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import Select

BIND = "replica"


def configure(app) -> None:
    """Declare the replica as a second engine (a Flask-SQLAlchemy bind no model belongs to),
    its connections read-only so nothing can ever be written there by mistake."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    options = {"url": url}  # pinged after idle like the primary's (kiemdich/dbpool.py)
    if url.startswith("postgresql"):
        options["execution_options"] = {"postgresql_readonly": True}
        options["connect_args"] = {"options": "-c jit=off"}  # see extensions.init_app
    app.config["SQLALCHEMY_BINDS"] = dict(app.config.get("SQLALCHEMY_BINDS") or {}, **{BIND: options})


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, sending reads to the replica while `g` asks for it."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (bind is None and not self._flushing and isinstance(clause, Select) and clause._for_update_arg is None
                and has_app_context() and g.get("kiemdich_replica") and BIND in self._db.engines):
            return self._db.engines[BIND]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@contextmanager
def reading():
    """Within this block, plain SELECTs of db.session go to the replica (when configured)."""
    before = g.get("kiemdich_replica", False)
    g.kiemdich_replica = True
    try:
        yield
    finally:
        g.kiemdich_replica = before


def reads_replica(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        with reading():
            return view(*args, **kwargs)
    return wrapper


def enabled() -> bool:
    return bool(current_app.config.get("DATABASE_REPLICA_URL"))
