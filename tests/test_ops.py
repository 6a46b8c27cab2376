"""What operators read: /healthz, /readyz, /metrics (only from their network), the trusted proxy
hops setting, and Strict-Transport-Security with secure cookies."""
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from kiemdich import create_app
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from kiemdich.ops.health import set_queue_heartbeat
from tests.conftest import Client, csrf_token
from tests.factories import ImportBatchFactory
from tests.test_scan import _decl, staff  # noqa: F401  (the fixture)


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return response.get_data(as_text=True)


# Health -----------------------------------------------------------------------------------------

def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok\n")
    assert response.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in response.headers


def test_readyz_checks_database_schema_redis_and_queue(app, client):
    from kiemdich import tasks

    tasks.huey.storage.pop_data(tasks.HEARTBEAT_KEY)  # no consumer has run yet
    response = client.get("/readyz")
    assert response.status_code == 200
    redis = "ok" if app.config["RATELIMIT_STORAGE_URI"].startswith("redis") else "not configured"
    assert response.get_json() == {"ready": True, "checks": {
        "database": "ok", "migrations": "ok", "redis": redis, "queue": "unknown"}}
    tasks.beat()  # what the consumer does on start and every minute
    assert client.get("/readyz").get_json()["checks"]["queue"] == "ok"


def test_readyz_fails_while_the_schema_is_behind_the_code(app, client):
    app.extensions["kiemdich.alembic_heads"] = {"zz_migration_not_applied_yet"}  # code deployed, no upgrade
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "behind"


def test_readyz_fails_when_the_database_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("KIEMDICH_INSTANCE", str(tmp_path))
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "RATELIMIT_STORAGE_URI": "memory://",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/nothing"})
    with app.app_context():
        response = app.test_client().get("/readyz")
        db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "fail"
    assert app.test_client().get("/healthz").status_code == 200  # alive, only not ready


def test_readyz_follows_the_queue_consumers_heartbeat(app, client):
    heartbeat = {"at": None}
    set_queue_heartbeat(app, lambda: heartbeat["at"])
    assert client.get("/readyz").get_json()["checks"]["queue"] == "unknown"  # no heartbeat yet
    assert client.get("/readyz").status_code == 200
    heartbeat["at"] = datetime.now(timezone.utc) - timedelta(seconds=20)
    assert client.get("/readyz").get_json()["checks"]["queue"] == "ok"
    heartbeat["at"] = datetime.now(timezone.utc) - timedelta(minutes=10)  # KIEMDICH_QUEUE_STALE_SECONDS: 300
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["queue"] == "stale"


# Metrics ----------------------------------------------------------------------------------------

def test_metrics_only_for_the_operators_network(app, client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 404
    assert client.get("/metrics").status_code == 200  # loopback, the default
    app.config["KIEMDICH_METRICS_NETWORKS"] = "10.20.0.0/16, 192.0.2.7"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics").status_code == 404


def test_metrics_count_requests_and_their_time_per_endpoint(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/tra-cuu").status_code == 200
    assert client.get("/khong-co-trang-nay").status_code == 404
    after = scrape(client)
    labels = {"endpoint": "traveller.lookup", "method": "GET"}
    assert sample(after, "kiemdich_http_requests_total", status="200", **labels) - \
        sample(before, "kiemdich_http_requests_total", status="200", **labels) == 3
    assert sample(after, "kiemdich_http_request_duration_seconds_count", **labels) - \
        sample(before, "kiemdich_http_request_duration_seconds_count", **labels) == 3
    assert sample(after, "kiemdich_http_requests_total", endpoint="none", status="404") - \
        sample(before, "kiemdich_http_requests_total", endpoint="none", status="404") == 1


def test_metrics_count_passages_written_and_outbox_replays(client, staff):  # noqa: F811
    token = declarations.token_for(_decl())
    before = scrape(client)
    key = str(uuid.uuid4())
    headers = {"X-CSRFToken": staff["csrf"], "HX-Request": "true", "Idempotency-Key": key, "X-Outbox": "1"}
    data = {"chot": staff["checkpoint"].code, "decision": "allow", "test_taken": "none", "token": token}
    assert client.post("/chot/qua-chot", data=data, headers=headers).status_code == 201
    assert client.post("/chot/qua-chot", data=data, headers=headers).status_code == 200  # the replay
    after = scrape(client)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("kiemdich_passages_written_total", kind="staff") == 1  # the replay wrote nothing
    assert delta("kiemdich_outbox_writes_total", endpoint="scan.passage", outcome="created") == 1
    assert delta("kiemdich_outbox_writes_total", endpoint="scan.passage", outcome="replay") == 1


def test_metrics_show_import_jobs_by_state(client):
    for status in ("failed", "failed", "committed", "analysing"):
        ImportBatchFactory(status=status)
    db.session.commit()
    text = scrape(client)
    assert sample(text, "kiemdich_import_batches", status="failed") == 2
    assert sample(text, "kiemdich_import_batches", status="committed") == 1
    assert sample(text, "kiemdich_import_batches", status="analysing") == 1


# Proxy hops, HSTS -------------------------------------------------------------------------------

def _failed_sign_in(client, **environ):
    token = csrf_token(client)
    client.post("/dang-nhap", data={"username": "nobody", "password": "x", "csrf_token": token},
                environ_base=environ.get("environ_base", {}), headers=environ.get("headers", {}))
    return db.session.scalars(select(AuditEvent.ip).where(AuditEvent.action.like("auth.%"))
                              .order_by(AuditEvent.id.desc())).first()


def test_forwarded_addresses_are_ignored_without_trusted_hops(app, client):
    assert app.config["KIEMDICH_PROXY_HOPS"] == 0  # the default: no proxy
    ip = _failed_sign_in(client, environ_base={"REMOTE_ADDR": "198.51.100.20"},
                         headers={"X-Forwarded-For": "203.0.113.99"})
    assert ip == "198.51.100.20"


@pytest.fixture
def proxied_app(app):
    """The same app configured for one trusted proxy (nginx)."""
    proxied = create_app(dict(app.config, KIEMDICH_PROXY_HOPS=1, KIEMDICH_LOOKUP_ADDRESS_RATE="2 per minute"))
    proxied.test_client_class = Client
    with proxied.app_context():
        yield proxied


def test_one_trusted_hop_gives_limits_and_audit_the_client_address(proxied_app):
    client = proxied_app.test_client()
    nginx = {"REMOTE_ADDR": "10.0.0.5"}
    # The audit trail records the phone's address, the last one the proxy appended.
    ip = _failed_sign_in(client, environ_base=nginx, headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.31"})
    assert ip == "198.51.100.31"
    token = csrf_token(client, "/tra-cuu")

    def lookup(phone):
        return client.post("/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": token},
                           environ_base=nginx, headers={"X-Forwarded-For": phone}).status_code

    assert [lookup("198.51.100.40"), lookup("198.51.100.40"), lookup("198.51.100.40")] == [422, 422, 429]
    assert lookup("198.51.100.41") == 422  # another phone through the same proxy


def test_strict_transport_security_when_cookies_are_secure(app, client):
    assert "Strict-Transport-Security" not in client.get("/khai-bao").headers  # insecure cookies (tests)
    app.config["SESSION_COOKIE_SECURE"] = True
    assert client.get("/khai-bao").headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
