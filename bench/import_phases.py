"""The import's phases in one process (no gunicorn, no consumer), each timed, any of them profiled:
the reading child and store_rows, the dry run, the commit, on BENCH_DATABASE_URL (its public schema
is dropped and rebuilt). PROF="dry commit" prints cProfile's top entries of those phases and keeps
the stats in /tmp/import_<phase>.prof.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h1 BENCH_FILE=/tmp/qua-chot-100000.xlsx \
        PROF=commit .venv/bin/python bench/import_phases.py

BENCH_FILE: a file bench/import_100k.py generated. T=0 runs the app as in production (TESTING off).
"""
import cProfile, os, pstats, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _setup import bench_app, database_url, fresh_database
url = database_url()
app = bench_app(url, TESTING=os.environ.get("T", "1") == "1")
PROF = os.environ.get("PROF", "")
path = os.environ["BENCH_FILE"]
from kiemdich.extensions import db
from kiemdich.models import Checkpoint, ImportBatch, User
from kiemdich.accounts.operations import create_user
from kiemdich.imports import operations, sandbox
def phase(name, fn):
    t = time.perf_counter()
    if name in PROF:
        pr = cProfile.Profile(); pr.enable(); r = fn(); pr.disable()
        pr.dump_stats(f"/tmp/import_{name}.prof")
        pstats.Stats(pr).sort_stats("cumulative").print_stats(45)
        pstats.Stats(pr).sort_stats("tottime").print_stats(30)
    else:
        r = fn()
    print(f"PHASE {name}: {time.perf_counter() - t:.2f} s", flush=True)
    return r
with app.app_context():
    fresh_database()
    cp = Checkpoint(code="BENCH001", name="Chốt Bench", commune_code="25210")
    db.session.add(cp); db.session.flush()
    user = create_user("bench", "bench-password-123", "supervisor", area_codes=["75"])
    db.session.commit()
    data = open(path, "rb").read()
    batch = operations.create_batch(os.path.basename(path), data, user=user, checkpoint_id=cp.id)
    db.session.commit()
    def read():
        table, header = sandbox.parse(data, memory_mb=1536, max_unzipped=None, filename=batch.filename)
        operations.store_rows(batch, table, header)
        db.session.commit()
    phase("read", read)
    def dry():
        b = db.session.get(ImportBatch, batch.id)
        c = operations.dry_run(b, db.session.get(User, user.id)); db.session.commit(); return c
    print(phase("dry", dry))
    def com():
        b = db.session.get(ImportBatch, batch.id)
        c = operations.commit(b, db.session.get(User, user.id)); db.session.commit(); return c
    print(phase("commit", com))
