"""Redis down is not an outage: a real redis-server, started here on its own port, is stopped in
the middle of the test. Travellers still declare and see their status, officers still sign in;
limits are counted per process meanwhile (logged once), and shared again once Redis is back."""
import logging
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import redis

from kiemdich import create_app
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db, limiter
from kiemdich.seeds import seed_reference_data
from tests.conftest import PASSWORD, Client, _empty_tables, csrf_token, skip_or_fail
from tests.factories import DeclarationFactory, UserFactory
from tests.test_declarations import HX, inputs, valid_form


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server in the foreground on a loopback port, no persistence."""

    def __init__(self, folder):
        self.port, self.folder, self.process = _free_port(), folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        skip_or_fail("Redis outage test skipped: redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outage_app(database_url, tmp_path, redis_server):
    """The app as the conftest's, with its limiter on this test's own redis-server."""
    os.environ["KIEMDICH_INSTANCE"] = str(tmp_path / "instance")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "RATELIMIT_STORAGE_URI": redis_server.url, "KIEMDICH_LOOKUP_RATE": "4 per minute",
                      "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    app.test_client_class = Client
    with app.app_context():
        _empty_tables()
        seed_reference_data()
        UserFactory(username="xa1", role="commune", area_codes=["25210"])
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()
    limiter._storage_dead = False  # the limiter object outlives this app: leave it as the next test expects
    os.environ.pop("KIEMDICH_INSTANCE", None)


def _everything_a_checkpoint_needs(app, token: str) -> dict[str, int]:
    """The routes of the outage report, each as a traveller or an officer uses it."""
    answers = {}
    officer = app.test_client()
    answers["POST /dang-nhap"] = officer.post("/dang-nhap", data={
        "username": "xa1", "password": PASSWORD, "csrf_token": csrf_token(officer)}).status_code
    answers["GET /dong-bo/phien"] = officer.get("/dong-bo/phien").status_code
    traveller = app.test_client()
    form = inputs(traveller.get("/khai-bao").get_data(as_text=True))
    answers["POST /khai-bao"] = traveller.post("/khai-bao", headers=HX, data=valid_form(
        nonce=form["nonce"]["value"], csrf_token=form["csrf_token"]["value"],
        id_number="0791%08d" % (time.monotonic_ns() % 10**8))).status_code
    answers["POST /tra-cuu"] = traveller.post("/tra-cuu", headers=HX, data={
        "code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": csrf_token(traveller, "/tra-cuu")}).status_code
    answers["POST /q/trang-thai"] = traveller.post("/q/trang-thai", data={"token": token}, headers=HX).status_code
    answers["GET /dia-ban/xa"] = traveller.get("/dia-ban/xa?tinh=75&q=tan", headers=HX).status_code
    answers["GET /sw.js"] = traveller.get("/sw.js").status_code
    answers["GET /manifest.webmanifest"] = traveller.get("/manifest.webmanifest").status_code
    return answers


EXPECTED = {"POST /dang-nhap": 302, "GET /dong-bo/phien": 200, "POST /khai-bao": 200, "POST /tra-cuu": 422,
            "POST /q/trang-thai": 200, "GET /dia-ban/xa": 200, "GET /sw.js": 200,
            "GET /manifest.webmanifest": 200}


def _lookups_until_limited(client, address: str) -> list[int]:
    token = csrf_token(client, "/tra-cuu")
    return [client.post("/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": token},
                        environ_base={"REMOTE_ADDR": address}).status_code for _ in range(5)]


def test_redis_stopped_mid_test_is_not_an_outage(outage_app, redis_server, caplog):
    app = outage_app
    decl = DeclarationFactory()
    db.session.commit()
    token = declarations.token_for(decl)
    caplog.set_level(logging.INFO)

    assert _everything_a_checkpoint_needs(app, token) == EXPECTED

    redis_server.stop()
    for _ in range(3):  # several rounds: the switch is logged once, not per request
        assert _everything_a_checkpoint_needs(app, token) == EXPECTED
    warnings = [r.getMessage() for r in caplog.records if r.name == "kiemdich.limits"]
    assert warnings == ["Redis unreachable: rate limits are counted per process until it answers again"]
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"] == "fallback"
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert re.search(r"^kiemdich_ratelimit_fallbacks_total [1-9]", metrics, re.M)
    # Limits still hold meanwhile, in this process's memory.
    assert _lookups_until_limited(app.test_client(), "203.0.113.10") == [422] * 4 + [429]

    redis_server.start()  # the same port, empty
    deadline = time.monotonic() + 60
    recovered = False
    while time.monotonic() < deadline and not recovered:  # the limiter retries Redis with a backoff
        assert app.test_client().get("/sw.js").status_code == 200
        recovered = any("Redis answers again" in r.getMessage() for r in caplog.records)
        time.sleep(0.25)
    assert recovered
    # Counting is shared again: the counts are in Redis, where every process sees them.
    assert _lookups_until_limited(app.test_client(), "203.0.113.11") == [422] * 4 + [429]
    keys = redis.Redis.from_url(redis_server.url).keys("*203.0.113.11*")
    assert keys
    assert app.test_client().get("/readyz").get_json()["checks"]["redis"] == "ok"
