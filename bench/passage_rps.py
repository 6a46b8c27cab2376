"""Bench: confirm-passage requests per second through gunicorn against PostgreSQL, as a ratio to
a hello-world Flask route served by gunicorn with the same settings, measured in the same run.

Each passage request is the real thing: signed token verified, declaration row locked, rules
computed, passage and arrival written in one transaction, committed. Replays (the same UUID
again, as an outbox does after a lost answer) are measured too, in rounds interleaved with the
hello-world measurement (BENCH_ROUNDS, default 5; the median ratio is reported). The bench owns its database:
the `public` schema of BENCH_DATABASE_URL is dropped and rebuilt.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_h4 .venv/bin/python bench/passage_rps.py
"""
import os
import re
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (CLIENTS, THREADS, WORKERS, Client, bench_app, database_url, fresh_database,  # noqa: E402
                    gunicorn, hello_gunicorn, run, server_env, stop)

PASSAGES = int(os.environ.get("BENCH_PASSAGES", "1500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PASSWORD = "mat khau bench"


def scan_csrf(client: Client, username: str) -> str:
    """Sign in as checkpoint staff; the CSRF token of the scan screen."""
    client.sign_in(username, PASSWORD)
    _s, html, _r = client.request("GET", "/chot/quet")
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def prepare(url: str, instance: str) -> list[str]:
    """Fresh schema, units, rules, a checkpoint, CLIENTS staff accounts, PASSAGES signed tokens."""
    from kiemdich.accounts.passwords import hash_password
    from kiemdich import persons
    from kiemdich.declarations import operations as declarations
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint, User, UserCheckpoint
    from tests.factories import DeclarationFactory

    app = bench_app(url, instance)
    with app.app_context():
        fresh_database()
        cp = Checkpoint(code="BENCH001", name="Chốt QL13", commune_code="25432")
        db.session.add(cp)
        password = hash_password(PASSWORD)
        for i in range(CLIENTS):
            user = User(username=f"chot{i}", password_hash=password, role="checkpoint")
            db.session.add(user)
            db.session.flush()
            db.session.add(UserCheckpoint(user_id=user.id, checkpoint_id=cp.id))
        people = [DeclarationFactory(phone=f"09{i:08d}") for i in range(PASSAGES)]  # PASSAGES people
        for d in people:  # each its person, as the form, khai hộ and imports link them
            persons.link(d)
        db.session.commit()
        tokens = [declarations.token_for(d) for d in people]
        db.engine.dispose()
    return tokens


def main():
    url = database_url("postgresql://postgres@127.0.0.1:5432/test_h4")
    instance = tempfile.mkdtemp(prefix="kd-bench-rps-")
    tokens = prepare(url, instance)
    env = server_env(url, instance)
    app_proc, port = gunicorn("app:app", env)
    hello_proc, hello_port = hello_gunicorn(env)
    try:
        clients = [Client(port) for _ in range(CLIENTS)]
        csrf = [scan_csrf(c, f"chot{i}") for i, c in enumerate(clients)]
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

        hello_clients = [Client(hello_port) for _ in range(CLIENTS)]

        def hello(client):
            assert client.request("GET", "/")[0] == 200

        # Interleaved rounds: hello-world, new passages, replays, hello-world again, ROUNDS times over
        # slices of the tokens. This shared VM's speed drifts by a third within minutes, so each
        # round's ratio uses the hello-world measured beside it, and the median round is reported.
        rounds = []
        for r in range(ROUNDS):
            chunk = range(r * len(tokens) // ROUNDS, (r + 1) * len(tokens) // ROUNDS)
            before = run(hello_clients, [hello] * len(chunk))
            statuses.clear()
            created = run(clients, [passage(i) for i in chunk])
            assert statuses.count((201, "created")) == len(chunk), set(statuses)
            statuses.clear()
            replayed = run(clients, [passage(i) for i in chunk])
            assert statuses.count((200, "replay")) == len(chunk), set(statuses)
            after = run(hello_clients, [hello] * len(chunk))
            hello_time = (before + after) / 2
            rounds.append((len(chunk) / hello_time, len(chunk) / created, len(chunk) / replayed,
                           hello_time / created, hello_time / replayed))
        print(f"gunicorn {WORKERS} workers x {THREADS} threads, {CLIENTS} keep-alive clients on loopback,"
              f" PostgreSQL, {ROUNDS} interleaved rounds of {len(tokens) // ROUNDS} requests each:")
        for n, (h, c, p, rc, rp) in enumerate(rounds, 1):
            print(f"  round {n}: hello {h:6.0f} req/s, new {c:5.0f} req/s = {rc:.3f}x, replay {p:5.0f} req/s = {rp:.3f}x")
        median = sorted(rounds, key=lambda x: x[3])[len(rounds) // 2]
        print(f"  hello-world Flask route      {median[0]:8.0f} req/s   (the median round by the new passage's ratio)")
        print(f"  confirm passage (new)        {median[1]:8.0f} req/s  = {statistics.median(x[3] for x in rounds):.3f} x hello (median)")
        print(f"  confirm passage (replay)     {median[2]:8.0f} req/s  = {statistics.median(x[4] for x in rounds):.3f} x hello (median)")
        print(f"  passage + arrival written per new request; every replay answered from the first write")
    finally:
        stop(app_proc, hello_proc)


if __name__ == "__main__":
    main()
