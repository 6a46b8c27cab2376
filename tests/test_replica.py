"""DATABASE_REPLICA_URL: the dashboard, its drill-down and the exports read from the replica; every
write still goes to the primary. Two PostgreSQL databases: TEST_DATABASE_URL (the primary) and
TEST_REPLICA_DATABASE_URL (default: the same name with "_replica"; it is emptied and rebuilt).

The replica is filled as streaming replication would (a copy of the primary's rows), then the
primary's passages and arrivals are deleted: the figures can then only come from the replica.
"""
import os

import pytest
from sqlalchemy import create_engine, event, func, select, text

from kiemdich import create_app
from kiemdich.extensions import db
from kiemdich.models import Arrival, AuditEvent, Checkpoint, Passage
from tests.conftest import Client, _pg_url, csrf_token, skip_or_fail
from tests.factories_supervision import PERIOD, as_dicts, dashboard_dataset, tables
from tests.test_dashboard import PROVINCE_ARRIVALS, PROVINCE_PASSAGES, split


def _replica_url(primary: str) -> str:
    raw = os.environ.get("TEST_REPLICA_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL", "") + "_replica"
    return _pg_url(raw)


def _ensure_database(url: str) -> None:
    """Create the replica's database on the primary's server when it is missing (CI has only `test`)."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))


def _copy_to_replica(url: str) -> None:
    """The primary's tables and rows into the replica database (what replication keeps doing)."""
    _ensure_database(url)
    writer = create_engine(url)
    try:
        with writer.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.metadata.create_all(writer)
        with db.engine.connect() as source, writer.begin() as target:
            for table in db.metadata.sorted_tables:
                rows = [dict(r._mapping) for r in source.execute(table.select())]
                if rows:
                    target.execute(table.insert(), rows)
    finally:
        writer.dispose()


@pytest.fixture
def replica_app(app, users, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("a replica is a PostgreSQL feature (the SQLite pass has none)")
    url = _replica_url(database_url)
    dashboard_dataset()
    db.session.commit()
    try:
        _copy_to_replica(url)
    except Exception as err:  # noqa: BLE001 - no second database to use
        skip_or_fail(f"replica test skipped: cannot prepare {url}: {err.__class__.__name__}")
    # The primary moves on without what the dashboard counts: only the replica has it now.
    db.session.execute(text("UPDATE passage SET confirms_id = NULL"))
    db.session.execute(Arrival.__table__.delete())
    db.session.execute(Passage.__table__.delete())
    db.session.execute(Checkpoint.__table__.update().values(name=Checkpoint.name + " (primary)"))
    db.session.commit()
    routed = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "DATABASE_REPLICA_URL": url,
                         "RATELIMIT_ENABLED": False, "SESSION_COOKIE_SECURE": False,
                         "REMEMBER_COOKIE_SECURE": False, "SECRET_KEY": app.config["SECRET_KEY"]})
    routed.test_client_class = Client
    with routed.app_context():
        yield routed
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _statements(engine, sent: list):
    def before(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split())[:80])
    event.listen(engine, "before_cursor_execute", before)
    return before


def test_dashboard_reads_the_replica_and_writes_go_to_the_primary(replica_app):
    client = replica_app.test_client()
    token = csrf_token(client)
    client.post("/dang-nhap", data={"username": "super1", "password": "correct horse battery",
                                    "csrf_token": token})
    primary, replica = db.engines[None], db.engines["replica"]
    on_primary, on_replica = [], []
    hooks = [(primary, _statements(primary, on_primary)), (replica, _statements(replica, on_replica))]
    try:
        response = client.get("/tinh", query_string=PERIOD)
        assert response.status_code == 200
        found, _links = tables(response.get_data(as_text=True))
        # the figures counted by hand in test_dashboard, though the primary has no passage left
        assert as_dicts(found["t-day-passages"]) == split(PROVINCE_PASSAGES)
        assert as_dicts(found["t-day-arrivals"]) == split(PROVINCE_ARRIVALS)
        assert set(as_dicts(found["t-checkpoints"])) == {"Chốt A", "Chốt B"}  # the replica's names
        assert on_replica and all(s.startswith("SELECT") for s in on_replica)
        assert len(on_primary) <= 1  # the signed-in user only (loaded before the view)

        on_replica.clear()
        drill = client.get("/tinh/ds", query_string=PERIOD | {"f": "p_all"})
        html = drill.get_data(as_text=True)
        assert drill.status_code == 200 and "Chốt A" in html and "(primary)" not in html
        assert on_replica and all(s.startswith("SELECT") for s in on_replica)

        on_primary.clear(), on_replica.clear()
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        with replica.connect() as conn:
            replica_before = conn.execute(select(func.count()).select_from(AuditEvent)).scalar()
        on_primary.clear(), on_replica.clear()
        export = client.post("/tinh/xuat", data=PERIOD | {"csrf_token": csrf_token(client, "/tinh")})
        assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
        assert all(s.startswith("SELECT") for s in on_replica)
        assert any(s.startswith("INSERT INTO audit_event") for s in on_primary)  # the write went to the primary
    finally:
        for engine, hook in hooks:
            event.remove(engine, "before_cursor_execute", hook)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    with replica.connect() as conn:  # and nothing was written on the replica (read-only connections)
        assert conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
        assert conn.execute(select(func.count()).select_from(AuditEvent)).scalar() == replica_before
