"""Bench: the floor under the passage write's ratio on this machine. Bare Flask routes that do only
the database part of a write, with no ORM, no session, no rules, no template, through gunicorn with
the same settings as bench/passage_rps.py, each as a ratio to the hello-world route in the same run:

- 1 round trip: INSERT ... RETURNING and COMMIT on a thread's own psycopg connection;
- 8 round trips: seven one-row SELECTs by primary key, then that INSERT and COMMIT (the new
  passage's statement budget);
- 4 reads: four one-row SELECTs and the transaction's end, nothing written (the replay's budget).

Any design of the passage write that keeps Flask, PostgreSQL and its statement budget costs at
least this, so the ratio printed for "8 round trips" is about the best the real write can reach.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/floor_rps.py

It creates (and drops at the end) a table kd_floor in that database; nothing else is touched.
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import CLIENTS, THREADS, WORKERS, Client, database_url, gunicorn, hello_gunicorn, run, server_env, stop  # noqa: E402

REQUESTS = 2000
APP = '''
import os, threading
import psycopg
from flask import Flask, request
app = Flask(__name__)
local = threading.local()
URL = os.environ["FLOOR_URL"]

def conn():
    if not hasattr(local, "c"):
        local.c = psycopg.connect(URL)
    return local.c

@app.post("/<kind>/<int:reads>")
def request_(kind, reads):
    """kind "w": `reads` SELECTs then an INSERT ... RETURNING; "r": the SELECTs alone. Then COMMIT."""
    c = conn()
    with c.cursor() as cur:
        for n in range(reads):
            cur.execute("SELECT id, note FROM kd_floor WHERE id = %s", (n + 1,))
            cur.fetchone()
        if kind == "w":
            cur.execute("INSERT INTO kd_floor (note) VALUES (%s) RETURNING id", (request.form.get("note", ""),))
            cur.fetchone()
    c.commit()
    return "ok", 201 if kind == "w" else 200
'''


def main():
    import psycopg

    url = database_url("postgresql://postgres@127.0.0.1:5432/bench").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS kd_floor")
        c.execute("CREATE TABLE kd_floor (id serial PRIMARY KEY, note text NOT NULL)")
        c.execute("INSERT INTO kd_floor (note) SELECT 'seed' FROM generate_series(1, 10)")
    folder = Path(tempfile.mkdtemp(prefix="kd-bench-floor-"))
    (folder / "floor_app.py").write_text(APP)
    env = server_env(url, str(folder), FLOOR_URL=url)
    floor_proc, port = gunicorn("floor_app:app", env, folder)
    hello_proc, hello_port = hello_gunicorn(env)
    try:
        def writer(reads):
            def job(client):
                status, _body, _r = client.request("POST", f"/w/{reads}", "note=passage")
                assert status == 201, status
            return job

        clients = [Client(port) for _ in range(CLIENTS)]
        one = run(clients, [writer(0)] * REQUESTS)
        eight = run(clients, [writer(7)] * REQUESTS)

        def reader(client):
            status, _body, _r = client.request("POST", "/r/4", "note=replay")
            assert status == 200, status

        four = run(clients, [reader] * REQUESTS)
        hello_clients = [Client(hello_port) for _ in range(CLIENTS)]
        hello = run(hello_clients, [lambda client: client.request("GET", "/")] * REQUESTS)
        print(f"gunicorn {WORKERS} workers x {THREADS} threads, {CLIENTS} keep-alive clients, PostgreSQL, {REQUESTS} requests each:")
        print(f"  hello-world Flask route                 {REQUESTS / hello:8.0f} req/s")
        print(f"  bare write, 1 round trip + commit       {REQUESTS / one:8.0f} req/s  = {hello / one:.3f} x hello")
        print(f"  bare write, 8 round trips + commit      {REQUESTS / eight:8.0f} req/s  = {hello / eight:.3f} x hello")
        print(f"  bare read, 4 round trips                {REQUESTS / four:8.0f} req/s  = {hello / four:.3f} x hello")
    finally:
        stop(floor_proc, hello_proc)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS kd_floor")


if __name__ == "__main__":
    main()
