"""Profile: the hot requests in-process (Flask test client, no HTTP server) against PostgreSQL, with
cProfile: mean time per request, SQL statements per request, and the functions where the time goes.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h8 .venv/bin/python bench/profile_hot.py

It owns its database (the `public` schema is dropped and rebuilt). Times depend on the machine and
its load: compare runs made one after the other, and read the statement counts, which do not vary.
Set BENCH_PROFILE_TOP=N to print the N most expensive functions (cumulative) of each request kind.
"""
import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, database_url, fresh_database  # noqa: E402

N = int(os.environ.get("BENCH_N", "100"))
TOP = int(os.environ.get("BENCH_PROFILE_TOP", "0"))
PROFILE = os.environ.get("BENCH_PROFILE", "1") != "0"  # BENCH_PROFILE=0: plain times, no cProfile
PASSWORD = "mat khau bench"


def main():
    from sqlalchemy import event

    from kiemdich.accounts.passwords import hash_password
    from kiemdich import persons
    from kiemdich.declarations import operations as declarations
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint, User, UserCheckpoint
    from tests.factories import DeclarationFactory

    url = database_url("postgresql://postgres@127.0.0.1:5432/bench_h8")
    app = bench_app(url, tempfile.mkdtemp(prefix="kd-prof-"), RATELIMIT_ENABLED=bool(os.environ.get("BENCH_LIMITS")), SESSION_COOKIE_SECURE=False,
                    RATELIMIT_STORAGE_URI=os.environ.get("BENCH_LIMITS") or "memory://")
    with app.app_context():
        fresh_database()
        cp = Checkpoint(code="PROF0001", name="Chốt QL13", commune_code="25432")
        db.session.add(cp)
        user = User(username="chot0", password_hash=hash_password(PASSWORD), role="checkpoint")
        db.session.add(user)
        db.session.flush()
        db.session.add(UserCheckpoint(user_id=user.id, checkpoint_id=cp.id))
        people = [DeclarationFactory(phone=f"09{i:08d}") for i in range(N)]  # N people, not one
        for d in people:  # each its person, as the form, khai hộ and imports link them
            persons.link(d)
        db.session.commit()
        with app.test_request_context():
            tokens = [declarations.token_for(d) for d in people]
        db.session.remove()

    client = app.test_client()
    html = client.get("/dang-nhap").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    assert client.post("/dang-nhap", data={"username": "chot0", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/chot/quet").get_data(as_text=True)).group(1)
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
    keys = [str(uuid.uuid4()) for _ in tokens]

    def passage(i):
        r = client.post("/chot/qua-chot", data={"token": tokens[i], "chot": "PROF0001", "decision": "allow",
                                                "test_taken": "none"},
                        headers={"Idempotency-Key": keys[i], "HX-Request": "true", "X-CSRFToken": csrf})
        assert r.status_code in (200, 201), r.status_code

    def status(i):
        r = client.post("/q/trang-thai", data={"token": tokens[i]}, headers={"HX-Request": "true"})
        assert r.status_code == 200

    anonymous = app.test_client()

    def form(_i):  # a traveller's phone: not signed in (staff get a fresh render for khai hộ)
        assert anonymous.get("/khai-bao").status_code == 200

    kinds = [("new passage", passage), ("replay of a passage", passage),
             ("status answer (first)", status), ("status answer (again)", status), ("declaration form GET", form)]
    print(f"in-process Flask test client, PostgreSQL, {N} requests each "
          + ("(cProfile on: times are inflated):" if PROFILE else "(no profiler):"))
    for name, job in kinds:
        statements.clear()
        profile = cProfile.Profile()
        started = time.perf_counter()
        if PROFILE:
            profile.enable()
        for i in range(N):
            job(i)
        profile.disable()
        elapsed = time.perf_counter() - started
        print(f"  {name:<26} {elapsed / N * 1000:7.1f} ms/request  {len(statements) / N:5.1f} SQL statements/request")
        if not PROFILE:
            continue
        stats = pstats.Stats(profile)
        if os.environ.get("BENCH_PROFILE_DUMP"):  # e.g. /tmp/hot: /tmp/hot-new-passage.prof, ...
            profile.dump_stats(f"{os.environ['BENCH_PROFILE_DUMP']}-{re.sub(r'[^a-z]+', '-', name).strip('-')}.prof")
        if TOP:
            stats.sort_stats("cumulative").print_stats(TOP)
        wanted = {"segno": r"segno", "jinja render": r"jinja2/(environment|runtime)\.py.*\((render|root)",
                  "psycopg execute": r"psycopg/cursor\.py.*\(execute\)", "png": r"segno/writers\.py.*write_png"}
        found = {}
        for (file, line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
            where = f"{file}:{line}({func})"
            for label, pattern in wanted.items():
                if re.search(pattern, where):
                    found[label] = max(found.get(label, 0), ct)
        if found:
            print("      " + ", ".join(f"{k} {v / N * 1000:.1f} ms" for k, v in sorted(found.items())))


if __name__ == "__main__":
    main()
