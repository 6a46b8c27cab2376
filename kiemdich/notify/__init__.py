"""Telling people: Web Push to officers' phones (push.py), text messages to returnees through a
pluggable gateway (sms.py), and the queue's jobs that decide who is told what (tasks.py)."""


def init_app(app) -> None:
    """The VAPID key (created in instance/ on first start), the blueprint, the page's public key."""
    from . import push, views

    push.init_app(app)
    app.register_blueprint(views.bp)
    app.add_template_global(push.application_server_key, "push_key")
