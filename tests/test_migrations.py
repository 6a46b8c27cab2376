"""`flask db upgrade` on an empty database gives exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiemdich.extensions import db


def test_migrated_schema_matches_the_models(app):
    # The session fixture built this database with the real migrations, not create_all().
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_table_exists(app):
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_and_upgrade_again(app, tmp_path):
    """The migration chain can be walked back and forth on a scratch database."""
    from flask_migrate import downgrade, upgrade

    from kiemdich import create_app

    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL is migrated from scratch by the session fixture already
    scratch = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path/'scratch.db'}",
                          "SECRET_KEY": "x"})
    with scratch.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
