"""Bench: confirm-passage requests per second through gunicorn against PostgreSQL, as a ratio to
a hello-world Flask route served by gunicorn with the same settings, measured in the same run.

Each passage request is the real thing: signed token verified, declaration row locked, rules
computed, passage and arrival written in one transaction, committed. Replays (the same UUID
again, as an outbox does after a lost answer) are measured too. The bench owns its database:
the `public` schema of BENCH_DATABASE_URL is dropped and rebuilt.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_h4 .venv/bin/python bench/passage_rps.py
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKERS, THREADS, CLIENTS = 2, 4, 8
PASSAGES = int(os.environ.get("BENCH_PASSAGES", "800"))
PASSWORD = "mat khau bench"
HELLO = "from flask import Flask\napp = Flask('hello')\napp.add_url_rule('/', 'hello', lambda: 'Hello, World!')\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(target: str, env: dict, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
                             "--threads", str(THREADS), "--log-level", "warning", target],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"gunicorn {target} did not start")


class Client:
    """One phone: a keep-alive connection and a session cookie."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # gunicorn closes idle keep-alive connections after 2 s: reconnect once
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.conn.host, self.conn.port, timeout=60)
                if attempt == 2:
                    raise
        cookie = r.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return r.status, data.decode("utf-8", "replace"), r

    def sign_in(self, username):
        _s, html, _r = self.request("GET", "/dang-nhap")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
        status, _h, _r = self.request("POST", "/dang-nhap", urlencode(
            {"username": username, "password": PASSWORD, "csrf_token": token.group(1) or token.group(2)}))
        assert status == 302, status
        _s, html, _r = self.request("GET", "/chot/quet")
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def run(clients, jobs):
    """Run the jobs (callables taking a client) over the clients in parallel; returns seconds."""
    chunks = [jobs[i::len(clients)] for i in range(len(clients))]
    errors = []

    def work(client, chunk):
        try:
            for job in chunk:
                job(client)
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=work, args=(c, ch)) for c, ch in zip(clients, chunks)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    return time.perf_counter() - start


def prepare(url: str, instance: str) -> list[str]:
    """Fresh schema, units, rules, a checkpoint, CLIENTS staff accounts, PASSAGES signed tokens."""
    os.environ["KIEMDICH_INSTANCE"] = instance
    from flask_migrate import upgrade
    from sqlalchemy import text

    from kiemdich import create_app
    from kiemdich.accounts.passwords import hash_password
    from kiemdich.areas.operations import upsert_units, vietnam_2025_rows
    from kiemdich.declarations import operations as declarations
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint, User, UserCheckpoint
    from kiemdich.seeds import seed_reference_data
    from tests.factories import DeclarationFactory

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        upsert_units(vietnam_2025_rows())
        seed_reference_data()
        cp = Checkpoint(code="BENCH001", name="Chốt QL13", commune_code="25432")
        db.session.add(cp)
        password = hash_password(PASSWORD)
        for i in range(CLIENTS):
            user = User(username=f"chot{i}", password_hash=password, role="checkpoint")
            db.session.add(user)
            db.session.flush()
            db.session.add(UserCheckpoint(user_id=user.id, checkpoint_id=cp.id))
        people = [DeclarationFactory() for _ in range(PASSAGES)]
        db.session.commit()
        tokens = [declarations.token_for(d) for d in people]
        db.engine.dispose()
    return tokens


def main():
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_h4")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    instance = tempfile.mkdtemp(prefix="kd-bench-rps-")
    tokens = prepare(url, instance)
    env = dict(os.environ, DATABASE_URL=url, KIEMDICH_INSTANCE=instance, KIEMDICH_INSECURE_COOKIES="1",
               SECRET_KEY="bench", PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)
    hello_dir = Path(tempfile.mkdtemp(prefix="kd-bench-hello-"))
    (hello_dir / "hello_app.py").write_text(HELLO)

    app_proc, port = gunicorn("app:app", env, ROOT)
    hello_proc, hello_port = gunicorn("hello_app:app", env, hello_dir)
    try:
        clients = [Client(port) for _ in range(CLIENTS)]
        csrf = [c.sign_in(f"chot{i}") for i, c in enumerate(clients)]
        keys = [str(uuid.uuid4()) for _ in tokens]
        statuses = []

        def passage(i):
            def job(client):
                n = clients.index(client)
                status, _b, r = client.request("POST", "/chot/qua-chot", urlencode(
                    {"token": tokens[i], "chot": "BENCH001", "decision": "allow", "test_taken": "none"}),
                    {"X-CSRFToken": csrf[n], "Idempotency-Key": keys[i], "HX-Request": "true"})
                statuses.append((status, r.getheader("X-Outbox-Status")))
            return job

        created = run(clients, [passage(i) for i in range(len(tokens))])
        assert statuses.count((201, "created")) == len(tokens), set(statuses)
        statuses.clear()
        replayed = run(clients, [passage(i) for i in range(len(tokens))])
        assert statuses.count((200, "replay")) == len(tokens), set(statuses)

        hello_clients = [Client(hello_port) for _ in range(CLIENTS)]

        def hello(client):
            assert client.request("GET", "/")[0] == 200

        hello_time = run(hello_clients, [hello] * len(tokens))
        n = len(tokens)
        print(f"gunicorn {WORKERS} workers x {THREADS} threads, {CLIENTS} keep-alive clients on loopback,"
              f" PostgreSQL, {n} requests each:")
        print(f"  hello-world Flask route      {n / hello_time:8.0f} req/s")
        print(f"  confirm passage (new)        {n / created:8.0f} req/s  = {hello_time / created:.3f} x hello")
        print(f"  confirm passage (replay)     {n / replayed:8.0f} req/s  = {hello_time / replayed:.3f} x hello")
        print(f"  passage + arrival written per new request; every replay answered from the first write")
    finally:
        for proc in (app_proc, hello_proc):
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
