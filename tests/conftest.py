"""Fixtures: the app on each database backend, a client, a CLI runner and an `auth` helper.

Every test runs once on SQLite and once on PostgreSQL (when TEST_DATABASE_URL is set;
otherwise the PostgreSQL pass is skipped with a message). The schema is built by the real
Alembic migrations once per backend; each test then starts from empty tables, with the
administrative units and the reference data in place.
"""
import os
import re

import pytest
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from kiemdich import create_app
from kiemdich.areas.operations import upsert_units, vietnam_2025_rows
from kiemdich.extensions import db, limiter
from kiemdich.seeds import seed_reference_data

REQUIRE_ALL = os.environ.get("KIEMDICH_REQUIRE_ALL_BACKENDS") == "1"
KEEP_TABLES = {"admin_unit", "alembic_version"}


def skip_or_fail(message: str):
    """Skip locally; in CI (KIEMDICH_REQUIRE_ALL_BACKENDS=1) a missing component is a failure."""
    if REQUIRE_ALL:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


def _pg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A migrated database with the administrative units loaded, one per backend."""
    if request.param == "postgresql":
        raw = os.environ.get("TEST_DATABASE_URL")
        if not raw:
            skip_or_fail("PostgreSQL pass skipped: TEST_DATABASE_URL is not set")
        url = _pg_url(raw)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "SECRET_KEY": "schema", "RATELIMIT_ENABLED": False})
    with app.app_context():
        if request.param == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        upsert_units(vietnam_2025_rows())
        db.session.commit()
        db.engine.dispose()
    return url


class Client(FlaskClient):
    """A test client whose every request starts with an empty `g`.

    Tests hold an app context open (to use db.session directly), and Flask reuses it for the
    requests they make, so without this `g` would carry the signed-in user, the CSRF token and
    the locale from one request to the next, as it never does in production.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        return super().open(*args, **kwargs)


def _empty_tables():
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # declaration.import_row_id and import_row.declaration_id point at each other: check at commit.
        db.session.execute(text("PRAGMA defer_foreign_keys=ON"))
        for table in tables:
            db.session.execute(table.delete())
    # Units of other datasets loaded by a test go too; today's official units stay.
    db.session.execute(text("DELETE FROM admin_unit WHERE dataset <> 'vn2025'"))
    db.session.commit()


@pytest.fixture
def app(database_url, tmp_path):
    """The app on a clean database (reference data seeded), its instance folder in tmp_path."""
    os.environ["KIEMDICH_INSTANCE"] = str(tmp_path / "instance")
    redis_url = os.environ.get("REDIS_URL")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    })
    app.test_client_class = Client
    # Unit tests run queued jobs in Huey's immediate mode (in the caller); the tests that need a
    # real consumer process (tests/test_queue.py, the e2e import) switch it off.
    from kiemdich.tasks import huey
    huey.immediate = True
    with app.app_context():
        limiter.reset()  # rate-limit counters (in Redis when REDIS_URL is set) start at zero
        _empty_tables()
        seed_reference_data()
        db.session.commit()
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    os.environ.pop("KIEMDICH_INSTANCE", None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/dang-nhap") -> str:
    """The CSRF token a page hands out to this client's session."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str = "correct horse battery", follow=False):
        token = csrf_token(self._client)
        return self._client.post("/dang-nhap", data={"username": username, "password": password,
                                                    "csrf_token": token}, follow_redirects=follow)

    def logout(self):
        token = csrf_token(self._client, "/")
        return self._client.post("/dang-xuat", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


PASSWORD = "correct horse battery"


@pytest.fixture
def users(app):
    """One account of each role, in scope of a Đồng Nai commune and a checkpoint there."""
    from tests.factories import CheckpointFactory, UserFactory

    checkpoint = CheckpointFactory(commune_code="25210")
    made = {
        "admin": UserFactory(username="admin1", role="admin"),
        "supervisor": UserFactory(username="super1", role="supervisor", area_codes=["75"]),
        "checkpoint": UserFactory(username="chot1", role="checkpoint", checkpoint_ids=[checkpoint.id]),
        "commune": UserFactory(username="xa1", role="commune", area_codes=["25210"]),
    }
    db.session.commit()
    return made
