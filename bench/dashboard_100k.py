"""Bench: the province dashboard on 100,000 arrivals, as a ratio to a bare `SELECT count(*)` on the same table.

Builds its own schema (`bench_dashboard`, dropped and rebuilt; the public schema is untouched) in a
PostgreSQL database, fills it with SQL (generate_series: 110,000 declarations and passages at 12
checkpoints, 100,000 arrivals over 95 communes and 90 days), then times, in the same run:

- baseline: SELECT count(*) FROM arrival (and, for scale, a count of the 30 days' arrivals alone)
- figures: kiemdich.dashboard.figures.compute() for a province supervisor, 30 and 90 days
- page: GET /tinh (figures, charts, tables, template) through the test client
- drill-down: the first page of a list behind a figure (count + 25 rows)

Each is run REPEAT times (median), and the timing phase stops after BENCH_SECONDS.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_h7 .venv/bin/python bench/dashboard_100k.py
"""
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, database_url, fresh_database  # noqa: E402

ARRIVALS = int(os.environ.get("BENCH_ROWS", "100000"))
DECLARATIONS = ARRIVALS + ARRIVALS // 10  # the rest: transit, refused or not yet at a checkpoint
SCHEMA = "bench_dashboard"
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))
DEADLINE = float(os.environ.get("BENCH_SECONDS", "120"))
FIRST_DAY = date(2021, 9, 1)
DAYS = 90


def _url() -> str:
    url = database_url("postgresql://postgres@127.0.0.1:5432/test_h7")
    if not url.startswith("postgresql"):
        raise SystemExit("this bench needs PostgreSQL (BENCH_DATABASE_URL=postgresql://...)")
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{SCHEMA}"


def setup(app) -> None:
    """Schema, units, reference data and the rows, written by PostgreSQL itself (not timed)."""
    from sqlalchemy import text

    from kiemdich.accounts.passwords import hash_password
    from kiemdich.extensions import db

    fresh_database(SCHEMA, migrate=False)  # its own schema: the public one is left alone
    communes = db.session.scalars(text("SELECT code FROM admin_unit WHERE parent_code = '75' ORDER BY code")).all()
    db.session.execute(text(
        "INSERT INTO checkpoint (code, name, commune_code, road, active, poster_version, created_at) "
        "SELECT 'BCP' || lpad(i::text, 5, '0'), 'Chốt ' || i, (CAST(:communes AS text[]))[1 + i * 7 % :n], 'QL', true, 1, now() "
        "FROM generate_series(1, 12) i"), {"communes": communes, "n": len(communes)})
    db.session.execute(text(f"""
        INSERT INTO declaration (code, token_id, full_name, search_name, id_type, id_number, birth_year, sex, phone,
            nationality, contact_street, origin_province_code, origin_street, dest_commune_code, dest_street,
            travel_date, vehicle_type, vehicle_plate, vehicle_seat, places_visited, symptoms, exposure_case,
            exposure_market, exposure_care, vaccine_doses, test_kind, on_behalf, on_behalf_by, consent_version,
            source, created_at, valid_until)
        SELECT 'B' || lpad(n::text, 7, '0'), substr(md5(n::text), 1, 16), 'Người ' || n, 'nguoi ' || n, 'cccd',
            '0' || (75000000000 + n)::text, 1950 + n % 60, CASE WHEN n % 2 = 0 THEN 'nam' ELSE 'nu' END,
            '09' || lpad((n % 100000000)::text, 8, '0'), 'Việt Nam', '', '79', '',
            (CAST(:communes AS text[]))[1 + n % :n], '', DATE '{FIRST_DAY}' + (n % {DAYS}), 'xe_may', '', '', '', '[]', false,
            false, false, n % 3, '', false, '', 'bench', 'import',
            TIMESTAMP '{FIRST_DAY}' + (n % {DAYS}) * INTERVAL '1 day' + (n % 61200) * INTERVAL '1 second',
            TIMESTAMP '{FIRST_DAY}' + (n % {DAYS} + 3) * INTERVAL '1 day'
        FROM generate_series(1, :total) n"""), {"communes": communes, "n": len(communes), "total": DECLARATIONS})
    db.session.execute(text("""
        INSERT INTO passage (declaration_id, checkpoint_id, kind, decision, papers_checked, test_taken,
            instruction_overridden, override_reason, transit, client_uuid, server_ts, note)
        SELECT d.id, 1 + d.id % 12, 'staff',
            CASE WHEN d.id % 25 = 0 THEN 'refuse' WHEN d.id % 16 = 0 THEN 'quarantine' ELSE 'allow' END, true,
            CASE WHEN d.id % 3 = 0 THEN 'rapid' WHEN d.id % 10 = 1 THEN 'pcr_pooled' ELSE 'none' END,
            false, '', false, 'bench-' || d.id, d.created_at + INTERVAL '1 hour', ''
        FROM declaration d WHERE d.id <= :passed"""), {"passed": ARRIVALS + ARRIVALS // 20})
    db.session.execute(text("""
        INSERT INTO arrival (declaration_id, passage_id, commune_code, status, measure, plan_start, plan_end,
            test_days, needs_approval, expected_at, arrived_at, confirmed_how, flagged, referred_facility,
            created_at, updated_at, ended_at)
        SELECT d.id, p.id, d.dest_commune_code,
            (ARRAY['expected','arrived','monitoring','monitoring','completed','completed','completed','completed',
                   'ended_unchecked','lost_contact','referred','transferred','left_province','completed'])[1 + d.id % 14],
            'self_monitoring', d.travel_date, d.travel_date + 6, '[1]', false, p.server_ts,
            CASE WHEN d.id % 14 = 0 THEN NULL ELSE p.server_ts + INTERVAL '3 hours' END, '', d.id % 17 = 0, '',
            p.server_ts, p.server_ts, p.server_ts + INTERVAL '7 days'
        FROM declaration d JOIN passage p ON p.declaration_id = d.id WHERE d.id <= :arrivals"""),
        {"arrivals": ARRIVALS})
    db.session.execute(text(
        "INSERT INTO \"user\" (username, password_hash, full_name, phone, role, active, created_at, "
        "session_version) VALUES ('bench', :hash, '', '', 'supervisor', true, now(), 1)"),
        {"hash": hash_password("bench password")})
    db.session.execute(text("INSERT INTO user_area (user_id, area_code) SELECT id, '75' FROM \"user\""))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    app = bench_app(_url(), RATELIMIT_ENABLED=False, SESSION_COOKIE_SECURE=False)
    from sqlalchemy import func, select, text

    from kiemdich.accounts.scope import commune_codes
    from kiemdich.clock import utcnow
    from kiemdich.dashboard import figures as figs
    from kiemdich.exports.operations import local_range
    from kiemdich.extensions import db
    from kiemdich.models import Arrival, User

    with app.app_context():
        t = time.perf_counter()
        setup(app)
        print(f"setup: {time.perf_counter() - t:.1f} s; engine {db.engine.dialect.name}, schema {SCHEMA}")
        counts = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                  for m in (figs.Declaration, figs.Passage, Arrival)}
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

        user = db.session.scalar(select(User).where(User.username == "bench"))
        codes = frozenset(commune_codes(user))
        now = utcnow()
        month = figs.Scope(codes, date(2021, 10, 1), date(2021, 10, 30), now)
        quarter = figs.Scope(codes, FIRST_DAY, date(2021, 11, 29), now)
        drill = figs.drill("a_exp", month)

        client = app.test_client()
        html = client.get("/dang-nhap").get_data(as_text=True)
        token = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        assert client.post("/dang-nhap", data={"username": "bench", "password": "bench password",
                                               "csrf_token": token}).status_code == 302
        page_query = {"start": "2021-10-01", "end": "2021-10-30"}

        lo, hi = local_range(month.start, month.end)
        tasks = {
            "baseline SELECT count(*) FROM arrival": lambda: db.session.execute(text("SELECT count(*) FROM arrival")).scalar(),
            "  (for scale: count(*) of the 30 days' arrivals)": lambda: db.session.scalar(
                select(func.count()).select_from(Arrival).where(Arrival.expected_at >= lo, Arrival.expected_at < hi)),
            "figures, province, 30 days": lambda: figs.compute(month),
            "figures, province, 90 days": lambda: figs.compute(quarter),
            "GET /tinh, 30 days (figures + charts + template)": lambda: client.get("/tinh", query_string=page_query),
            "drill-down first page (count + 25 rows)": lambda: (figs.count(drill), figs.items("arrival", drill, 0, 25)),
        }
        for fn in tasks.values():  # warm caches once, as a running server would be
            fn()
        result = figs.compute(month)
        assert result.totals["a_exp"] > 0
        samples = {name: [] for name in tasks}
        deadline = time.perf_counter() + DEADLINE
        for _round in range(REPEAT):
            for name, fn in tasks.items():
                samples[name].append(timed(fn))
                db.session.rollback()
            if time.perf_counter() > deadline:
                break
        base = statistics.median(samples[next(iter(tasks))])
        print(f"timing: median of {len(samples[next(iter(tasks))])} runs each")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"  {name:<52} {median * 1000:8.1f} ms   RATIO {median / base:6.1f}x")
        print(f"month figures: {result.totals['a_exp']:,} arrivals, {result.totals['p_all']:,} passages, "
              f"{len(result.by_commune)} communes, {len(result.by_checkpoint)} checkpoints")
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))


if __name__ == "__main__":
    main()
