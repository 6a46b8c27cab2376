"""kiemdich: a province's control of people entering it during an epidemic."""
import os
import secrets
from pathlib import Path

from flask import Flask

from .config import Config

ROOT = Path(__file__).resolve().parent.parent


def _instance_secret(app: Flask) -> str:
    """The secret key kept in instance/, created on first start (never in git)."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure an instance of the app."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("KIEMDICH_INSTANCE", str(ROOT / "instance")),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'kiemdich.db'}"

    from . import cli, extensions, models, web  # noqa: F401  (models register their tables)
    from . import assets, dbpool
    from .accounts import auth, views as account_views
    from .areas import views as area_views
    from .homes import views as home_views
    from .exports import views as export_views
    from .imports import views as import_views
    from . import tokens
    from .checkpoints import views as checkpoint_views
    from .declarations import views as declaration_views
    from .traveller import views as traveller_views
    from .dashboard import views as dashboard_views
    from .privacy import views as privacy_views
    from .rules import views as rules_views
    from .audit_trail import views as audit_trail_views
    from .offline import views as offline_views
    from .scan import views as scan_views
    from .followup import views as followup_views

    extensions.init_app(app)
    dbpool.init_app(app)
    web.init_app(app)
    assets.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(area_views.bp)
    app.register_blueprint(home_views.bp)
    app.register_blueprint(export_views.bp)
    app.register_blueprint(import_views.bp)
    if not app.config.get("TESTING"):
        from .imports.addresses import warm_up
        warm_up()  # the address library loads in the background, never on a request
        from .areas.former import warm_up as warm_up_former_names
        warm_up_former_names()  # likewise the pre-2025 commune names the picker searches
    tokens.init_app(app)
    app.register_blueprint(checkpoint_views.bp)
    app.register_blueprint(declaration_views.bp)
    app.register_blueprint(traveller_views.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(privacy_views.bp)
    app.register_blueprint(rules_views.bp)
    app.register_blueprint(audit_trail_views.bp)
    app.register_blueprint(offline_views.bp)
    app.register_blueprint(scan_views.bp)
    app.register_blueprint(followup_views.bp)

    from .ops.health import set_queue_heartbeat
    from .tasks import consumer_last_seen
    set_queue_heartbeat(app, consumer_last_seen)  # /readyz: is the queue's consumer alive?

    from . import notify
    notify.init_app(app)
    return app
