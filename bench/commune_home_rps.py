"""Bench: the commune officer's home (/xa), its "due today" fragment and a person's page, and the
traveller's status answer, through gunicorn against PostgreSQL holding 1,000,000 arrivals and
5,000,000 health checks (5,000 arrivals in the officer's commune), as requests per second and p95
latency, each as a ratio to a hello-world Flask route served by gunicorn with the same settings in
the same run; then the EXPLAIN of every query they run, checking that none scans a big table
sequentially.

Rows are written with COPY (no ORM). The bench owns its database: the `public` schema of
BENCH_DATABASE_URL is dropped and rebuilt (about 2 GB on disk; a few minutes on 2 cores).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_h5 .venv/bin/python bench/commune_home_rps.py
"""
import io
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (CLIENTS, THREADS, WORKERS, Client, bench_app, database_url, fresh_database,  # noqa: E402
                    gunicorn, hello_gunicorn, run, server_env, stop)

ARRIVALS = int(os.environ.get("BENCH_ARRIVALS", "1000000"))
CHECKS_PER_ARRIVAL = 5  # 5,000,000 health checks
IN_COMMUNE = 5000
COMMUNE = "25210"  # Phường Đồng Xoài
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
PASSWORD = "mat khau bench"
BIG = ("arrival", "health_check", "declaration", "arrival_event")
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thu Hà", "Hữu Lộc", "Ngọc Mai", "Thanh Sơn"]


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples of already formatted text) into table, in chunks."""
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(row))
            buf.write("\n")
            n += 1
            if n % 50000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())
    return n


def seed(url: str, instance: str) -> None:
    """Schema, units, rules, the officer, then 1M declarations + arrivals and 5M checks by COPY."""
    from sqlalchemy import select

    from kiemdich import clock
    from kiemdich.accounts.passwords import hash_password
    from kiemdich.extensions import db
    from kiemdich.models import AdminUnit, User, UserArea
    from kiemdich.text import fold

    app = bench_app(url, instance)
    with app.app_context():
        fresh_database()
        officer = User(username="xa1", password_hash=hash_password(PASSWORD), role="commune", full_name="Cán bộ")
        db.session.add(officer)
        db.session.flush()
        db.session.add(UserArea(user_id=officer.id, area_code=COMMUNE))
        communes = [c for c in db.session.scalars(select(AdminUnit.code).where(AdminUnit.parent_code == "75"))
                    if c != COMMUNE]
        db.session.commit()

        today = clock.today()
        now = clock.utcnow().replace(tzinfo=None)
        started = time.perf_counter()
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            decl_cols = ["id", "code", "token_id", "full_name", "search_name", "id_type", "id_number", "birth_year",
                         "sex", "phone", "nationality", "contact_street", "origin_province_code", "origin_street",
                         "dest_commune_code", "dest_street", "travel_date", "vehicle_type", "vehicle_plate",
                         "vehicle_seat", "places_visited", "symptoms", "exposure_case", "exposure_market",
                         "exposure_care", "vaccine_doses", "test_kind", "on_behalf", "on_behalf_by",
                         "consent_version", "source", "created_at", "valid_until"]
            arr_cols = ["id", "declaration_id", "commune_code", "status", "measure", "plan_start", "plan_end",
                        "self_monitoring_until", "test_days", "needs_approval", "rule_version", "expected_at",
                        "arrived_at", "confirmed_how", "flagged", "ended_at", "referred_facility", "created_at",
                        "updated_at"]
            chk_cols = ["arrival_id", "check_date", "temperature", "symptoms", "spo2", "present", "test_result",
                        "test_kind", "source", "client_uuid", "note", "created_at"]

            def plan(i):
                age = (i * 7919) % 120  # days since arrival, spread over four months
                start = today - timedelta(days=age)
                partial = i % 3 == 0
                end = start + timedelta(days=6)
                smu = end + timedelta(days=7) if partial else None
                last = smu or end
                if age == 0 and i % 4 == 0 or age in (1, 2) and i % 40 == 0:
                    status = "expected"
                elif last >= today:
                    status = "monitoring"
                else:
                    status = "ended_unchecked" if i % 25 == 0 else "completed"
                return age, start, end, smu, last, status, partial

            def commune_of(i):
                return COMMUNE if i < IN_COMMUNE else communes[i % len(communes)]

            def declarations():
                for i in range(ARRIVALS):
                    name = f"{SURNAMES[i % 12]} {GIVEN[(i // 12) % 8]} {i}"
                    age, start, *_ = plan(i)
                    created = datetime.combine(start, dtime(1, 0)) - timedelta(hours=2)
                    yield (str(i + 1), f"B{i:07d}", f"{i:016x}", name, fold(name), "cccd", f"0{i:011d}",
                           str(1950 + i % 55), "nam" if i % 2 else "nu", f"09{i % 100000000:08d}", "Việt Nam", "",
                           "79", "", commune_of(i), f"Tổ {i % 30}, khu phố {i % 9}", start.isoformat(), "xe_may",
                           "", "", "", "[]", "f", "f", "f", str(i % 3), "", "f", "", "2026-01", "web",
                           created.isoformat(), (created + timedelta(hours=72)).isoformat())

            def arrivals():
                for i in range(ARRIVALS):
                    age, start, end, smu, last, status, partial = plan(i)
                    passed = datetime.combine(start, dtime(3, 0))
                    arrived = "\\N" if status == "expected" else (passed + timedelta(hours=5)).isoformat()
                    ended = (datetime.combine(last, dtime(18, 0))).isoformat() if status == "completed" else "\\N"
                    yield (str(i + 1), str(i + 1), commune_of(i), status,
                           "home_quarantine" if partial else "self_monitoring", start.isoformat(), end.isoformat(),
                           smu.isoformat() if smu else "\\N", "[1, 7]" if partial else "[1]", "f", "1",
                           passed.isoformat(), arrived, "" if status == "expected" else "visit",
                           "t" if status == "monitoring" and i % 50 == 0 else "f", ended, "",
                           passed.isoformat(), passed.isoformat())

            def checks():
                for i in range(ARRIVALS):
                    age, start, end, smu, last, status, partial = plan(i)
                    for j in range(CHECKS_PER_ARRIVAL):
                        day = start + timedelta(days=j * (2 if partial else 1))
                        if day > today or status == "monitoring" and day == today and i % 2:
                            day = start  # a second check on the first day rather than one in the future
                        yield (str(i + 1), day.isoformat(), f"36.{(i + j) % 9}", "[]", str(95 + (i + j) % 5), "t",
                               "negative" if j == 0 else "", "rapid" if j == 0 else "", "visit",
                               f"{i:08x}-{j:04x}-4000-8000-000000000000", "", now.isoformat())

            n_decl = _copy(cur, "declaration", decl_cols, declarations())
            n_arr = _copy(cur, "arrival", arr_cols, arrivals())
            n_chk = _copy(cur, "health_check", chk_cols, checks())
            cur.execute("SELECT setval('declaration_id_seq', %s)", (n_decl,))
            cur.execute("SELECT setval('arrival_id_seq', %s)", (n_arr,))
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        db.engine.dispose()
    print(f"seeded {n_decl:,} declarations, {n_arr:,} arrivals ({IN_COMMUNE:,} in {COMMUNE}), "
          f"{n_chk:,} health checks by COPY in {time.perf_counter() - started:.0f} s")


def explain(url: str, instance: str) -> list[str]:
    """EXPLAIN every SELECT the home page and the due fragment run, as the officer; returns problems."""
    from sqlalchemy import event, text

    from kiemdich.extensions import db

    app = bench_app(url, instance, RATELIMIT_ENABLED=False, SESSION_COOKIE_SECURE=False)
    problems = []
    with app.app_context():
        client = app.test_client()
        html = client.get("/dang-nhap").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
        client.post("/dang-nhap", data={"username": "xa1", "password": PASSWORD,
                                        "csrf_token": token.group(1) or token.group(2)})
        client.get("/xa")  # the end rule settles what it has to once
        tokens.extend(status_tokens())
        seen = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and any(t in statement for t in BIG):
                seen.append((statement, parameters))

        # The big tables the seed filled (an empty arrival_event is read whole at no cost).
        big = [t for t in BIG if db.session.execute(text(f"SELECT reltuples FROM pg_class WHERE relname = '{t}'"))
               .scalar() > 10_000]
        db.session.rollback()
        event.listen(db.engine, "before_cursor_execute", capture)
        for path, headers in (("/xa", {}), ("/xa/ds/due/dong", {"HX-Request": "true"}),
                              (f"/xa/nguoi-den/{PERSON}", {"HX-Request": "true"}), ("/q/trang-thai", {})):
            seen.clear()
            if path == "/q/trang-thai":
                assert app.test_client().post(path, data={"token": tokens[0]}, headers=HX).status_code == 200
            else:
                assert client.get(path, headers=headers).status_code == 200
            print(f"\nEXPLAIN of the {len(seen)} queries on big tables behind GET {path}:")
            with db.engine.connect() as conn:
                for n, (statement, parameters) in enumerate(seen, 1):
                    plan = conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters).scalars().all()
                    first = " ".join(statement.split())[:110]
                    seq = [line.strip() for line in plan if re.search(r"Seq Scan on (%s)\b" % "|".join(big), line)]
                    total = [line for line in plan if "Execution Time" in line][0].strip()
                    print(f"  [{n}] {first}…  {total}{'  SEQ SCAN: ' + '; '.join(seq) if seq else ''}")
                    if seq:
                        problems.append(f"{path} [{n}]: {seq}")
                    if os.environ.get("BENCH_PLANS"):
                        print("\n".join("      " + line for line in plan))
        event.remove(db.engine, "before_cursor_execute", capture)
        print("\nBytes on the wire (budget: an HTMX fragment <= 5 KB), raw / brotli:")
        code = re.search(r'/xa/nguoi-den/(\w+)', client.get("/xa/ds/due/dong", headers={"HX-Request": "true"})
                         .get_data(as_text=True)).group(1)
        for path, hx in (("/xa", False), ("/xa/ds/due", True), ("/xa/ds/due/dong", True),
                         ("/xa/ds/due/dong?trang=2", True), (f"/xa/nguoi-den/{code}", True)):
            headers = {"HX-Request": "true"} if hx else {}
            raw = len(client.get(path, headers=headers).data)
            br = len(client.get(path, headers=headers | {"Accept-Encoding": "br"}).data)
            print(f"  GET {path:<28} {'fragment' if hx else 'page':<8} {raw:6,} / {br:5,} bytes")
        db.engine.dispose()
    return problems


PERSON = "B0000042"  # a declaration code of the officer's commune (seed: B + the row number)
HX = {"HX-Request": "true"}
tokens: list[str] = []  # personal QR tokens of travellers followed in the officer's commune


def status_tokens(n: int = 200) -> list[str]:
    """Signed tokens of n seeded declarations (the keys are the instance folder's, as gunicorn's)."""
    from flask import current_app
    from sqlalchemy import select

    from kiemdich.declarations import operations as declarations
    from kiemdich.extensions import db
    from kiemdich.models import Declaration

    decls = db.session.scalars(select(Declaration).where(Declaration.id <= n).order_by(Declaration.id)).all()
    with current_app.test_request_context():
        return [declarations.token_for(d) for d in decls]


def measure(clients, path, headers=None, method="GET") -> tuple[float, float, int]:
    """(requests per second, p95 latency in ms, response bytes) over REQUESTS requests; a POST sends
    the next status token."""
    latencies, sizes = [], []
    sent = iter(range(10**9))

    def job(client):
        t = time.perf_counter()
        body = urlencode({"token": tokens[next(sent) % len(tokens)]}) if method == "POST" else None
        status, body, _r = client.request(method, path, body=body, headers=headers)
        latencies.append(time.perf_counter() - t)
        sizes.append(len(body.encode()))
        assert status == 200, (path, status)

    elapsed = run(clients, [job] * REQUESTS)
    return REQUESTS / elapsed, statistics.quantiles(latencies, n=20)[18] * 1000, max(sizes)


def main():
    url = database_url("postgresql://postgres@127.0.0.1:5432/test_h5")
    instance = tempfile.mkdtemp(prefix="kd-bench-home-")
    if not os.environ.get("BENCH_REUSE"):
        seed(url, instance)
    problems = explain(url, instance)

    # The status answer's limits are per device and per address: the bench's 8 clients are one address.
    env = server_env(url, instance, KIEMDICH_STATUS_RATE="100000 per minute",
                     KIEMDICH_STATUS_ADDRESS_RATE="100000 per minute")
    app_proc, port = gunicorn("app:app", env)
    hello_proc, hello_port = hello_gunicorn(env)
    try:
        clients = [Client(port) for _ in range(CLIENTS)]
        for c in clients:
            c.sign_in("xa1", PASSWORD)
            c.request("GET", "/xa")  # warm: connection pool, templates, the end rule
        hello_clients = [Client(hello_port) for _ in range(CLIENTS)]
        for c in hello_clients:
            c.request("GET", "/")
        hello_rps, hello_p95, _ = measure(hello_clients, "/")
        home_rps, home_p95, home_size = measure(clients, "/xa")
        due_rps, due_p95, due_size = measure(clients, "/xa/ds/due/dong", {"HX-Request": "true"})
        person_rps, person_p95, person_size = measure(clients, f"/xa/nguoi-den/{PERSON}", HX)
        travellers = [Client(port) for _ in range(CLIENTS)]  # no session: a traveller's phone
        status_rps, status_p95, status_size = measure(travellers, "/q/trang-thai", HX, method="POST")
        # a second hello run, so a drift of the machine during the run shows
        hello2_rps, hello2_p95, _ = measure(hello_clients, "/")
        print(f"\ngunicorn {WORKERS} workers x {THREADS} threads, {CLIENTS} keep-alive clients on loopback, "
              f"PostgreSQL, {REQUESTS} requests each:")
        print(f"  hello-world Flask route     {hello_rps:7.0f} req/s  p95 {hello_p95:6.1f} ms"
              f"   (again at the end: {hello2_rps:.0f} req/s, p95 {hello2_p95:.1f} ms)")
        print(f"  commune home /xa            {home_rps:7.0f} req/s  p95 {home_p95:6.1f} ms"
              f"   = {home_rps / hello_rps:.3f} x hello req/s, p95 {home_p95 / hello_p95:.1f} x hello"
              f"   ({home_size:,} bytes uncompressed)")
        print(f"  'due today' fragment        {due_rps:7.0f} req/s  p95 {due_p95:6.1f} ms"
              f"   = {due_rps / hello_rps:.3f} x hello req/s, p95 {due_p95 / hello_p95:.1f} x hello"
              f"   ({due_size:,} bytes uncompressed)")
        print(f"  person page fragment        {person_rps:7.0f} req/s  p95 {person_p95:6.1f} ms"
              f"   = {person_rps / hello_rps:.3f} x hello req/s, p95 {person_p95 / hello_p95:.1f} x hello"
              f"   ({person_size:,} bytes uncompressed)")
        print(f"  traveller's status answer   {status_rps:7.0f} req/s  p95 {status_p95:6.1f} ms"
              f"   = {status_rps / hello_rps:.3f} x hello req/s, p95 {status_p95 / hello_p95:.1f} x hello"
              f"   ({status_size:,} bytes uncompressed)")
    finally:
        stop(app_proc, hello_proc)
    print("\nSequential scans of big tables: " + ("none" if not problems else "; ".join(problems)))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
