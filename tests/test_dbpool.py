"""Pooled connections are pinged only after sitting idle (kiemdich/dbpool.py): a busy server pays no
ping round trip per request, and a connection the database dropped while it sat in the pool (a
restart, a proxy's idle timeout) is replaced before a request meets it."""
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kiemdich.dbpool import ping_after_idle
from kiemdich.extensions import db


def _pooled_backend_dropped(app) -> int:
    """One connection in the pool, its server process then ended (as a restart would); its pid."""
    db.session.remove()
    db.engine.dispose()
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.remove()  # back to the pool
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: a server that drops a connection")
    return app


def test_a_connection_dropped_while_idle_is_replaced_before_the_request_uses_it(postgresql, client):
    ping_after_idle(db.engine, 0)  # anything idle is pinged (production: 10 s)
    dropped = _pooled_backend_dropped(postgresql)
    response = client.get("/readyz")
    assert response.get_json()["checks"]["database"] == "ok"
    assert db.session.execute(text("SELECT pg_backend_pid()")).scalar() != dropped


def test_a_connection_used_a_moment_ago_is_not_pinged(postgresql, client):
    """The other side of the same rule: within the idle time the connection is handed out as it is
    (no round trip), so a connection dropped that very moment is only found by the query itself."""
    _pooled_backend_dropped(postgresql)
    response = client.get("/readyz")
    assert response.get_json()["checks"]["database"] == "fail"
    # The failed query invalidated the connection: the next request gets a fresh one.
    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
