"""What the benches share: a fresh database (schema, administrative units, reference data),
gunicorn on loopback (the app and a hello-world baseline) and a signed-in keep-alive client.

A bench owns its database: `fresh_database` drops the schema it is given (PostgreSQL) before
rebuilding it, so BENCH_DATABASE_URL must never point at a database anyone cares about.
"""
import http.client
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
WORKERS, THREADS, CLIENTS = 2, 4, 8
HELLO = "from flask import Flask\napp = Flask('hello')\napp.add_url_rule('/', 'hello', lambda: 'Hello, World!')\n"
_CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def database_url(default: str | None = None, tmp: Path | None = None) -> str:
    """BENCH_DATABASE_URL (else `default`, else a SQLite file in `tmp`) with the psycopg 3 driver named."""
    url = os.environ.get("BENCH_DATABASE_URL") or default
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url or f"sqlite:///{tmp or tempfile.mkdtemp(prefix='kd-bench-')}/bench.db"


def bench_app(url: str, instance: str | None = None, **config):
    """The app on `url`, its instance folder (signing key, secret) in `instance` or a temporary one."""
    if instance:
        os.environ["KIEMDICH_INSTANCE"] = str(instance)
    else:
        os.environ.setdefault("KIEMDICH_INSTANCE", tempfile.mkdtemp(prefix="kd-bench-"))
    from kiemdich import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench", **config})


def fresh_database(schema: str = "public", migrate: bool = True) -> None:
    """In an app context: an empty `schema` (PostgreSQL), the tables (Alembic migrations, or
    create_all when `migrate` is false), the official units and the reference data (rules, levels),
    committed."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from kiemdich.areas.operations import upsert_units, vietnam_2025_rows
    from kiemdich.extensions import db
    from kiemdich.seeds import seed_reference_data

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    if migrate:
        upgrade()
    else:
        db.metadata.create_all(db.engine)
    upsert_units(vietnam_2025_rows())
    seed_reference_data()
    db.session.commit()


def peak_mb() -> float:
    """The largest resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(script: str, *args) -> dict:
    """Run `python script step args...` in its own process (its peak memory is its own); returns
    the JSON object the step prints last."""
    out = subprocess.run([sys.executable, script, *map(str, args)], capture_output=True, text=True,
                         cwd=ROOT, timeout=3600)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"step {args[0]} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def server_env(url: str, instance: str, **extra) -> dict:
    """The environment of a bench's gunicorn: its database and instance folder, plain-http cookies,
    no Redis (limits in memory), the repository importable."""
    env = dict(os.environ, DATABASE_URL=url, KIEMDICH_INSTANCE=str(instance), KIEMDICH_INSECURE_COOKIES="1",
               SECRET_KEY="bench", PYTHONPATH=str(ROOT), **extra)
    env.pop("REDIS_URL", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(target: str, env: dict, cwd: Path = ROOT, workers: int = WORKERS, threads: int = THREADS,
             args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    """Start gunicorn serving `target` on a free loopback port; returns (process, port) once it answers."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                             "--threads", str(threads), "--log-level", "warning", *args, target],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"gunicorn {target} did not start")


def hello_gunicorn(env: dict) -> tuple[subprocess.Popen, int]:
    """The hello-world Flask baseline served by gunicorn with the same settings."""
    hello_dir = Path(tempfile.mkdtemp(prefix="kd-bench-hello-"))
    (hello_dir / "hello_app.py").write_text(HELLO)
    return gunicorn("hello_app:app", env, hello_dir)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(30)  # a loaded machine may need more than a few seconds
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    """One phone: a keep-alive connection and a session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str:
        """The Cookie header this client sends."""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = self.cookie
        if body is not None:
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
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
        # Every cookie the app sets (the session and the device cookie come in separate headers).
        for header, value in r.getheaders():
            if header.lower() == "set-cookie":
                name, _eq, rest = value.split(";")[0].partition("=")
                self.cookies[name.strip()] = rest
        return r.status, data.decode("utf-8", "replace"), r

    def sign_in(self, username: str, password: str) -> None:
        _s, html, _r = self.request("GET", "/dang-nhap")
        token = _CSRF_INPUT.search(html)
        status, _h, _r = self.request("POST", "/dang-nhap", urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1) or token.group(2)}))
        assert status == 302, (username, status)


def run(clients, jobs) -> float:
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
