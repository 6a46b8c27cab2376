"""Flask extensions, created here and bound to the app in create_app."""
from pathlib import Path

from flask import has_request_context, request
from flask_babel import Babel
from flask_compress import Compress
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _routing_session():
    from .replica import RoutingSession  # reads of the dashboard and exports may go to a replica

    return RoutingSession


db = SQLAlchemy(model_class=Base, session_options={"class_": _routing_session()})
migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
compress = Compress()
htmx = HTMX()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def select_locale():
    """Vietnamese unless the visitor chose English with the language switch (a cookie).

    Browser language is ignored on purpose: shared phones at checkpoints are often set to
    English, and the staff still expect the Vietnamese screens they were trained on.
    """
    if not has_request_context():  # CLI commands and background jobs speak Vietnamese
        return "vi"
    chosen = request.cookies.get("lang")
    return chosen if chosen in ("vi", "en") else "vi"


babel = Babel()


def init_app(app):
    """Bind every extension to the app."""
    from sqlalchemy import event

    from .replica import configure as configure_replica

    configure_replica(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # No JIT compilation: the app's queries are short, and the list counts on a big commune
        # crossed the planner's JIT threshold, paying ~50 ms of compilation for a 3 ms query.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c jit=off")
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(options, connect_args=connect_args)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    login_manager.init_app(app)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)  # before CSRF: a flood without tokens must still be counted
    csrf.init_app(app)
    compress.init_app(app)
    htmx.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(app.root_path).parent / "translations"),
    )

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                # Foreign keys are off by default in SQLite; WAL lets readers and a writer share the file.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.close()
