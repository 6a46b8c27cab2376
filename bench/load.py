"""Load test: the province's traffic mix through gunicorn against PostgreSQL and Redis, on loopback.

    .venv/bin/python bench/load.py                 # the three runs, about 5 minutes
    .venv/bin/python bench/load.py --seconds 30 --runs 1

It owns its database and Redis database: BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/bench_load; created with psql when missing, its `public`
schema dropped and rebuilt) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/5, flushed; db 0,
which the tests use, is refused). Every address must be on loopback.

Set-up goes through the real commands (`flask db upgrade`, `kiemdich load-areas`, `kiemdich seed`,
`kiemdich demo`), then adds the bench's checkpoints, staff and officer accounts, travellers who
declared already, and arrivals the officers follow (through the real passage write).

Run 1: one node (gunicorn, 2 workers x 4 threads, as `make run`) under the mix driven by locust
(bench/locustfile.py: 70 % traveller, 20 % passage confirmations, 10 % commune), with a hello-world
Flask app on the same gunicorn settings measured just before with the same client. Run 2: the same
with one worker SIGKILLed halfway; clients resend lost writes with the same key, like the outbox.
Run 3: two nodes (two gunicorn on two ports, the same database, Redis, SECRET_KEY and instance
folder); a sign-in made on node A is used on node B, a rate limit is counted across both, then the
mix runs through both (round robin per request). After each run the database is checked: every
write the clients saw accepted is there exactly once, and nothing was written that they did not send.
Exit status 1 when any check fails (an error, a lost or doubled write, a 500 in a server log).
"""
import argparse
import ipaddress
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import psutil
import requests
from urllib3 import PoolManager

from _setup import BIN, HELLO, ROOT, THREADS, WORKERS, free_port  # noqa: E402  (2 workers x 4 threads, as `make run`)

PASSWORD = "mat khau bench tai"
STAFF, OFFICERS = 8, 4
CHECKPOINT_COMMUNES = ["25432", "25399", "25363"]  # the demo's roads into the former Bình Phước
DEST_COMMUNES = ["25210", "25432", "25417"]  # where the bench travellers go (the officers' communes)
ORIGIN_PROVINCES = ["79", "80", "68", "66", "92"]  # levels set by the demo data
MIX = ("traveller", "staff", "commune")


def group_of(name: str) -> str | None:
    """Which part of the mix a locust entry belongs to (None: sign-in at start, retries)."""
    if name.startswith(("setup:", "(")):
        return None
    path = name.split(" ", 1)[1]
    if path.startswith("/chot"):
        return "staff"
    if path.startswith("/xa"):
        return "commune"
    return "traveller"


# Safety: loopback only -------------------------------------------------------------------------

def loopback(url: str) -> str:
    host = urlparse(url).hostname or ""
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        sys.exit(f"refused: {url} is not on loopback (127.0.0.0/8)")
    return url


# Database and Redis ----------------------------------------------------------------------------

def fresh_database(url: str) -> None:
    """Create the database with psql when missing, then empty its public schema."""
    u = urlparse(url)
    name = u.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"refused: database name {name!r}")
    base = ["psql", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres", "-v", "ON_ERROR_STOP=1"]
    env = dict(os.environ, PGPASSWORD=u.password or "")
    exists = subprocess.run(base + ["-d", "postgres", "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not exists:
        subprocess.run(base + ["-d", "postgres", "-qc", f"CREATE DATABASE {name}"], env=env, check=True)
    subprocess.run(base + ["-d", name, "-qc", "DROP SCHEMA public CASCADE; CREATE SCHEMA public"], env=env, check=True,
                   stderr=subprocess.DEVNULL)


def fresh_redis(url: str) -> None:
    import redis

    if (urlparse(url).path.lstrip("/") or "0") == "0":
        sys.exit("refused: Redis database 0 is the tests'; use another number (e.g. redis://127.0.0.1:6379/5)")
    redis.Redis.from_url(url).flushdb()


def sql(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


# Set-up: the real commands, then the bench's own people ---------------------------------------

def prepare(env: dict, url: str, instance: Path, premade: int, runs: int) -> dict:
    for args in (["db", "upgrade"], ["kiemdich", "load-areas"], ["kiemdich", "seed"], ["kiemdich", "demo"]):
        subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ["KIEMDICH_INSTANCE"] = str(instance)
    from sqlalchemy import select

    from kiemdich import clock, create_app, tokens
    from kiemdich.accounts.operations import create_user
    from kiemdich.codes import new_code
    from kiemdich.declarations import operations as declarations
    from kiemdich.demo import _person
    from kiemdich.extensions import db
    from kiemdich.models import AdminUnit, Checkpoint, Declaration
    from kiemdich.scan import operations as scan

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": env["SECRET_KEY"]})
    rng = random.Random(2021)
    with app.app_context(), app.test_request_context():
        checkpoints = []
        for i, commune in enumerate(CHECKPOINT_COMMUNES):
            cp = Checkpoint(code=new_code(), name=f"Chốt bench {i + 1}", commune_code=commune, road="Quốc lộ 14")
            db.session.add(cp)
            checkpoints.append(cp)
        db.session.flush()
        ids = [c.id for c in checkpoints]
        staff = [create_user(f"bench-chot-{i}", PASSWORD, "checkpoint", full_name="Nhân viên chốt", checkpoint_ids=ids)
                 for i in range(STAFF)]
        officers = [create_user(f"bench-xa-{i}", PASSWORD, "commune", full_name="Cán bộ y tế xã",
                                area_codes=DEST_COMMUNES) for i in range(OFFICERS)]
        prep_user = create_user("bench-chuan-bi", PASSWORD, "checkpoint", checkpoint_ids=ids)
        origins = [(p, c) for p in ORIGIN_PROVINCES for c in db.session.scalars(
            select(AdminUnit.code).where(AdminUnit.parent_code == p).order_by(AdminUnit.code).limit(6))]
        now = clock.utcnow()
        today = clock.today(now)

        def declaration(dest: str, level4: bool = False) -> Declaration:
            p = _person(rng)
            origin_province, origin = rng.choice([o for o in origins if o[0] == "79"] if level4 else origins)
            doses = rng.choices([0, 1, 2, 3], [0.1, 0.2, 0.5, 0.2])[0]
            return Declaration(
                code=new_code(), token_id=uuid.uuid4().hex[:16], **p, nationality="Việt Nam",
                contact_commune_code=dest, contact_street="Ấp 4", origin_province_code=origin_province,
                origin_commune_code=origin, dest_commune_code=dest, dest_street="Tổ 7, ấp Thuận Phú",
                travel_date=today, vehicle_type="xe_may", vehicle_plate=f"93F1-{rng.randint(10000, 99999)}",
                symptoms=[], vaccine_doses=doses, last_dose_date=today - timedelta(days=60) if doses else None,
                consent_version="2026-01", source="web", created_at=now, valid_until=now + timedelta(hours=72))

        people = [declaration(rng.choice(DEST_COMMUNES)) for _ in range(premade * runs + 1)]
        # From a level-4 area (the demo puts Hồ Chí Minh City there): monitored for 7-14 days, so a
        # daily check never finds the follow-up ended (a declaration-only plan ends on arrival).
        followed = [declaration(rng.choice(DEST_COMMUNES), level4=True) for _ in range(300 + 70 * runs)]
        db.session.add_all(people + followed)
        db.session.flush()
        for decl in followed:  # let through at a checkpoint: routed to the officers' communes
            scan.record_passage(user=prep_user, checkpoint=checkpoints[0], decl=decl,
                                values=scan.PassageInput(decision="allow", papers_checked=True,
                                                         allow_reason="bench: routed for follow-up"),
                                client_uuid=str(uuid.uuid4()), now=now)
        db.session.commit()
        data = {
            "password": PASSWORD, "runs": runs,
            "checkpoints": [c.code for c in checkpoints], "checkpoint_ids": ids,
            "staff": [u.username for u in staff], "staff_ids": [u.id for u in staff],
            "officers": [u.username for u in officers], "officer_ids": [u.id for u in officers],
            "origins": origins, "dest_communes": DEST_COMMUNES,
            "people": [{"full_name": d.full_name, "birth_year": d.birth_year, "sex": d.sex} for d in people[:300]],
            "premade": [{"token": declarations.token_for(d), "code": d.code, "birth_year": str(d.birth_year)}
                        for d in people[:-1]],
            "spare": declarations.token_for(people[-1]),  # for run 3's sign-in demonstration, no run uses it
            "arrivals": [d.code for d in followed[:300]],
            "fresh_arrivals": [d.code for d in followed[300:300 + 40 * runs]],  # unconfirmed, for the two-officer race
            "ending_arrivals": [d.code for d in followed[300 + 40 * runs:]],  # made to end yesterday, 30 per run
        }
        assert tokens.public_jwk()  # the signing key now exists in the shared instance folder
        db.session.remove()
        db.engine.dispose()
    return data


# Processes -------------------------------------------------------------------------------------

class Node:
    """One gunicorn (the app or hello-world), bound to 127.0.0.1 only."""

    def __init__(self, target: str, env: dict, cwd: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS),
             "--threads", str(THREADS), "--log-level", "warning", target],
            cwd=cwd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn {target} exited; see {log}")
            try:
                if requests.get(self.url + "/", timeout=5).status_code < 500 and len(self.workers()) == WORKERS:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        sys.exit(f"gunicorn {target} did not start; see {log}")

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children()

    def cpu(self) -> float:
        """CPU seconds used so far by the master and its live workers."""
        total = 0.0
        for p in [psutil.Process(self.proc.pid), *self.workers()]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def locust(user_class: str, hosts: list[str], seconds: int, users: int, env: dict, out: Path, run: int,
           during=None) -> dict:
    """Run locust headless; the mix measures `seconds` from the moment all its users have signed
    in (hello-world from the start). `during(elapsed, window_opened_at)` is called every 0.5 s."""
    env = dict(env, KD_HOSTS=",".join(hosts), KD_BENCH_OUT=str(out), KD_RUN=str(run), KD_IP_BASE=str(10 + run))
    limit = seconds
    if user_class == "Mix":
        env["KD_SECONDS"] = str(seconds)
        limit = seconds + 300  # only a bound: the locustfile stops the run
    ready = Path(str(out) + ".ready")
    proc = subprocess.Popen(
        [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(users),
         "-r", str(users), "-t", f"{limit}s", "--stop-timeout", "30", "--only-summary", "--loglevel", "WARNING",
         "--exit-code-on-error", "0", "--host", hosts[0], user_class],
        cwd=ROOT, env=env, stdout=open(out.with_suffix(".log"), "w"), stderr=subprocess.STDOUT)
    start, opened = time.monotonic(), None
    while proc.poll() is None:
        if opened is None and ready.exists():
            opened = time.monotonic() - start
        if during:
            during(time.monotonic() - start, opened)
        time.sleep(0.5)
    if proc.returncode != 0 or not out.exists():
        sys.exit(f"locust failed; see {out.with_suffix('.log')}")
    return json.loads(out.read_text())


# Checks ----------------------------------------------------------------------------------------

def end_yesterday(url: str, codes: list[str]) -> None:
    """The morning after: these arrivals' monitoring ended yesterday and the end rule has not run.
    Every officer's home applies it on opening, and the officers all open it at the start."""
    from kiemdich import clock

    today = clock.today()
    with sql(url) as conn:
        conn.execute("UPDATE arrival a SET status = 'monitoring', plan_start = %s, plan_end = %s, "
                     "self_monitoring_until = NULL, arrived_at = now() - interval '7 days' FROM declaration d "
                     "WHERE a.declaration_id = d.id AND d.code = ANY(%s)",
                     (today - timedelta(days=7), today - timedelta(days=1), codes))


def exactly_once(url: str, data: dict, seen: dict, t0, t1, ending: list[str]) -> dict:
    """Compare what the clients saw accepted with what the database holds."""
    with sql(url) as conn:
        def counts(query, keys):
            return dict(conn.execute(query, (list(keys),)).fetchall()) if keys else {}

        sent_p = set(seen["passages"])
        ok_p = {k for k, answers in seen["passages"].items() if {"created", "replay"} & set(answers)}
        already = {k for k, answers in seen["passages"].items() if "already" in answers} - ok_p
        paired = {k for pair in seen["pairs"] for k in pair}
        db_p = counts("SELECT client_uuid, count(*) FROM passage WHERE client_uuid = ANY(%s) GROUP BY 1", sent_p)
        other_p = conn.execute(
            "SELECT count(*) FROM passage WHERE user_id = ANY(%s) AND server_ts BETWEEN %s AND %s "
            "AND NOT client_uuid = ANY(%s)", (data["staff_ids"], t0, t1, list(sent_p))).fetchone()[0]
        doubled_decisions = conn.execute(
            "SELECT count(*) FROM (SELECT declaration_id FROM passage WHERE kind = 'staff' AND decision IS NOT NULL "
            "AND checkpoint_id = ANY(%s) GROUP BY declaration_id, checkpoint_id HAVING count(*) > 1) d",
            (data["checkpoint_ids"],)).fetchone()[0]
        arrivals = conn.execute(
            "SELECT p.decision <> 'refuse', count(a.id) FROM passage p LEFT JOIN arrival a ON a.passage_id = p.id "
            "WHERE p.client_uuid = ANY(%s) GROUP BY p.id, p.decision", (list(ok_p),)).fetchall()

        sent_c = set(seen["checks"])
        ok_c = {k for k, v in seen["checks"].items() if v}
        db_c = counts("SELECT client_uuid, count(*) FROM health_check WHERE client_uuid = ANY(%s) GROUP BY 1", sent_c)
        other_c = conn.execute(
            "SELECT count(*) FROM health_check WHERE user_id = ANY(%s) AND created_at BETWEEN %s AND %s "
            "AND NOT client_uuid = ANY(%s)", (data["officer_ids"], t0, t1, list(sent_c))).fetchone()[0]

        confirmed = dict(conn.execute(
            "SELECT d.code, count(e.id) FROM declaration d JOIN arrival a ON a.declaration_id = d.id "
            "LEFT JOIN arrival_event e ON e.arrival_id = a.id AND e.action = 'confirmed' WHERE d.code = ANY(%s) "
            "GROUP BY d.code", (seen["raced_arrivals"],)).fetchall()) if seen["raced_arrivals"] else {}
        settled = dict(conn.execute(
            "SELECT d.code, count(e.id) FROM declaration d JOIN arrival a ON a.declaration_id = d.id "
            "LEFT JOIN arrival_event e ON e.arrival_id = a.id AND e.reason = 'end_rule' AND e.at >= %s "
            "WHERE d.code = ANY(%s) GROUP BY d.code", (t0, ending)).fetchall())
        checkins = conn.execute(
            "SELECT count(*), count(DISTINCT d.id), "
            "  (SELECT count(*) FROM (SELECT confirms_id FROM passage WHERE confirms_id IS NOT NULL "
            "   GROUP BY confirms_id HAVING count(*) > 1) x) "
            "FROM passage p JOIN declaration d ON d.id = p.declaration_id "
            "WHERE p.kind = 'self_checkin' AND d.token_id = ANY(%s)", (seen["checkins"],)).fetchone()
        confirmed_checkins = conn.execute(
            "SELECT count(*) FROM passage p JOIN declaration d ON d.id = p.declaration_id "
            "WHERE p.kind = 'staff' AND p.confirms_id IS NOT NULL AND d.token_id = ANY(%s)",
            (seen["checkins"],)).fetchone()[0]
        ok_d = set(seen["declarations"])
        db_d = counts("SELECT token_id, count(*) FROM declaration WHERE token_id = ANY(%s) GROUP BY 1", ok_d)
    return {
        "passages accepted": len(ok_p),
        "passages lost": len(ok_p - set(db_p)),
        "passages doubled": sum(1 for n in db_p.values() if n > 1) + doubled_decisions,
        "passages written but never acknowledged": len(set(db_p) - ok_p),
        "passages nobody sent": other_p,
        "passages answered 'already' (two phones, one QR)": len(already),
        "passages answered 'already' yet written": len(already & set(db_p)),
        "passages answered 'already' outside a race": len(already - paired),
        "two-phone races not written exactly once": sum(1 for a, b in seen["pairs"] if (a in db_p) + (b in db_p) != 1),
        "arrivals missing or doubled": sum(1 for routed, n in arrivals if n != (1 if routed else 0)),
        "checks accepted": len(ok_c),
        "checks lost": len(ok_c - set(db_c)),
        "checks doubled": sum(1 for n in db_c.values() if n > 1),
        "checks written but never acknowledged": len(set(db_c) - ok_c),
        "arrivals confirmed twice by a two-officer race": sum(1 for n in confirmed.values() if n > 1),
        "arrivals of a two-officer race left unconfirmed": sum(1 for n in confirmed.values() if n == 0),
        "checks nobody sent": other_c,
        "arrivals ended yesterday, settled at the homes": sum(1 for n in settled.values() if n == 1),
        "arrivals ended yesterday, settled twice": sum(1 for n in settled.values() if n > 1),
        "arrivals ended yesterday, left unsettled": sum(1 for n in settled.values() if n == 0),
        "self check-ins (travellers)": checkins[1],
        "self check-ins doubled": checkins[0] - checkins[1],
        "self check-ins confirmed by staff": confirmed_checkins,
        "self check-ins confirmed twice": checkins[2],
        "declarations accepted": len(ok_d),
        "declarations lost": len(ok_d - set(db_d)),
        "declarations doubled": sum(1 for n in db_d.values() if n > 1),
    }


BAD = ("lost", "doubled", "never acknowledged", "nobody sent", "yet written", "outside", "not written", "missing",
       "anomal", "twice", "unconfirmed", "unsettled")


def report(title: str, result: dict, checks: dict, hello: dict | None, cpu: float | None, nodes: list[Node]) -> bool:
    stats = result["stats"]
    print(f"\n== {title}")
    print(f"   {'endpoint':<44}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    by_group = dict.fromkeys(MIX, 0)
    for name in sorted(stats, key=lambda n: (group_of(n) is None, MIX.index(group_of(n)) if group_of(n) else 0, n)):
        s = stats[name]
        if not s["requests"]:
            continue  # the sign-ins at start, counted before the measured window
        group = group_of(name)
        if group:
            by_group[group] += s["requests"]
        print(f"   {name:<44}{s['requests']:>9}{s['failures']:>7}{s['rps']:>8.1f}{s['p50']:>8.0f}{s['p95']:>8.0f}"
              f"{s['p99']:>8.0f}")
    mixed = sum(by_group.values())
    seconds = result["total"]["seconds"] or 1
    errors = sum(s["failures"] for s in stats.values())
    print(f"   mix: " + ", ".join(f"{g} {100 * n / max(mixed, 1):.0f} %" for g, n in by_group.items())
          + f"; {mixed / seconds:.1f} req/s of the mix over {seconds:.0f} s; errors {errors}")
    if result["lost"]:
        print(f"   lost connections, retried with the same request and key: {sum(result['lost'].values())} "
              f"{result['lost']}")
    print("   sent again on purpose: " + ", ".join(f"{k} {v}" for k, v in sorted(result["cases"].items())))
    checks = dict(checks, **{"resends and races answered wrongly (anomalies)": len(result["anomalies"])})
    for item in result["anomalies"][:5]:
        print(f"   anomaly: {item}")
    if hello:
        print(f"   hello-world, same gunicorn settings and client: {hello['rps']:.1f} req/s, p50 {hello['p50']:.0f} ms; "
              f"the mix runs at {mixed / seconds / hello['rps']:.3f} x hello-world")
    if cpu is not None and hello:
        print(f"   server CPU per request (gunicorn processes): mix {1000 * cpu / max(mixed, 1):.1f} ms, hello-world "
              f"{1000 * hello['cpu'] / max(hello['requests'], 1):.2f} ms")
    for name, value in checks.items():
        mark = "  <-- FAIL" if value and any(word in name for word in BAD) else ""
        print(f"   {name:<46}{value:>7}{mark}")
    tracebacks = sum(n.tracebacks() for n in nodes)
    print(f"   tracebacks in the server logs: {tracebacks}")
    for item in result["unexpected"][:5]:
        print(f"   unexpected answer: {item}")
    failed = errors or tracebacks or any(v and any(w in k for w in BAD) for k, v in checks.items())
    print(f"   => {'FAIL' if failed else 'ok'}")
    return not failed


# Run 3's two-node demonstrations ---------------------------------------------------------------

def from_address(ip: str) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter()
    adapter.poolmanager = PoolManager(source_address=(ip, 0))
    session.mount("http://", adapter)
    return session


def sign_in_on_a_used_on_b(a: Node, b: Node, data: dict) -> bool:
    """Sign in on node A; node B serves the scan screen to that cookie and takes a passage with
    the CSRF token node A handed out."""
    s = from_address("127.9.0.1")
    page = s.get(a.url + "/dang-nhap").text
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    login = s.post(a.url + "/dang-nhap", data={"username": data["staff"][0], "password": PASSWORD, "csrf_token": csrf},
                   allow_redirects=False)
    scan_a = s.get(a.url + "/chot/quet", allow_redirects=False)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', scan_a.text).group(1)
    scan_b = s.get(b.url + "/chot/quet", allow_redirects=False)
    passage_b = s.post(b.url + "/chot/qua-chot", allow_redirects=False, headers={"X-CSRFToken": token, "HX-Request": "true"},
                       data={"token": data["spare"], "chot": data["checkpoints"][0], "decision": "allow",
                             "test_taken": "none", "client_uuid": str(uuid.uuid4())})
    anonymous_b = requests.get(b.url + "/chot/quet", allow_redirects=False)
    print(f"   sign-in POST on A: {login.status_code} -> {login.headers.get('Location')}; scan screen on A "
          f"{scan_a.status_code}, on B with A's cookie {scan_b.status_code} (without a cookie: {anonymous_b.status_code});"
          f" passage POST on B with A's CSRF token: {passage_b.status_code} {passage_b.headers.get('X-Outbox-Status')}")
    return (login.status_code == 302 and scan_a.status_code == scan_b.status_code == 200
            and passage_b.status_code == 201 and anonymous_b.status_code == 302)


def limit_counted_across(a: Node, b: Node) -> bool:
    """The lookup limit (KIEMDICH_LOOKUP_RATE, 10 per minute per IP) reached by requests
    alternating between the nodes, from one address."""
    s = from_address("127.9.0.2")
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', s.get(a.url + "/tra-cuu").text).group(1)
    answers = []
    for i in range(12):
        node = (a, b)[i % 2]
        r = s.post(node.url + "/tra-cuu", data={"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": csrf})
        answers.append(("AB"[i % 2], r.status_code, r.headers.get("X-RateLimit-Remaining")))
    print("   lookups alternating A/B from one address (node, status, remaining): "
          + " ".join(f"{n}:{s}/{rem}" for n, s, rem in answers))
    statuses = [s for _n, s, _r in answers]
    return statuses == [422] * 10 + [429] * 2


# Main ------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=45, help="length of each run (default 45)")
    parser.add_argument("--hello-seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=16, help="concurrent locust users (default 16)")
    parser.add_argument("--runs", default="1,2,3", help="which runs (default 1,2,3)")
    parser.add_argument("--premade", type=int, default=2500, help="pre-made travellers per run")
    args = parser.parse_args()
    runs = [int(r) for r in args.runs.split(",")]

    url = loopback(os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_load"))
    redis_url = loopback(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"))
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    work = Path(tempfile.mkdtemp(prefix="kd-bench-load-"))
    instance = work / "instance"
    instance.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KD_", "TEST_DATABASE"))}
    env.update(DATABASE_URL=url, REDIS_URL=redis_url, KIEMDICH_INSTANCE=str(instance), KIEMDICH_INSECURE_COOKIES="1",
               SECRET_KEY=uuid.uuid4().hex, FLASK_APP="app.py", PYTHONPATH=str(ROOT))
    print(f"bench/load.py: work folder {work}; database {url.split('@')[-1]}; Redis {redis_url}")
    fresh_database(url)
    fresh_redis(redis_url)
    t = time.monotonic()
    data = prepare(env, url, instance, args.premade, max(runs))
    (work / "data.json").write_text(json.dumps(data, ensure_ascii=False))
    env["KD_BENCH_DATA"] = str(work / "data.json")
    print(f"set-up {time.monotonic() - t:.0f} s: migrations, 3,321 communes, rules, demo data, "
          f"{len(data['premade'])} travellers who declared, {len(data['arrivals'])} arrivals followed; "
          f"gunicorn {WORKERS} workers x {THREADS} threads per node; locust {args.users} users, no think time")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (shared: read ratios)")

    all_ok = True
    hello_dir = work / "hello"
    hello_dir.mkdir()
    (hello_dir / "hello_app.py").write_text(HELLO)
    hello = None
    for run in runs:
        nodes = [Node("app:app", env, ROOT, work / f"run{run}-node-a.log")]
        if run == 3:
            nodes.append(Node("app:app", env, ROOT, work / f"run{run}-node-b.log"))
        try:
            cpu = None
            if hello is None:
                h = Node("hello_app:app", env, hello_dir, work / "hello-gunicorn.log")
                try:
                    c0 = h.cpu()
                    res = locust("Hello", [h.url], args.hello_seconds, args.users, env, work / "hello.json", run)
                    hello = dict(res["total"], cpu=h.cpu() - c0)
                    hello["rps"] = hello["requests"] / max(hello["seconds"], 1e-9)
                finally:
                    h.stop()
            title = {1: "Run 1: one node", 2: "Run 2: one node, a worker SIGKILLed halfway",
                     3: "Run 3: two nodes, the same PostgreSQL, Redis, SECRET_KEY and instance folder"}[run]
            ok = True
            if run == 3:
                print(f"\n== {title}: sharing")
                ok &= sign_in_on_a_used_on_b(nodes[0], nodes[1], data)
                ok &= limit_counted_across(nodes[0], nodes[1])
            killed = []

            def kill_halfway(elapsed, opened, node=nodes[0]):
                if run == 2 and not killed and opened is not None and elapsed >= opened + args.seconds / 2:
                    victim = node.workers()[0]
                    os.kill(victim.pid, signal.SIGKILL)
                    killed.append((victim.pid, round(elapsed, 1)))

            ending = data["ending_arrivals"][run - 1::max(runs)]
            end_yesterday(url, ending)
            with sql(url) as conn:
                t0 = conn.execute("SELECT now()").fetchone()[0]
            c0 = sum(n.cpu() for n in nodes)
            res = locust("Mix", [n.url for n in nodes], args.seconds, args.users, env, work / f"run{run}.json", run,
                         during=kill_halfway)
            if run == 1:
                cpu = sum(n.cpu() for n in nodes) - c0
            with sql(url) as conn:
                t1 = conn.execute("SELECT now()").fetchone()[0]
            if run == 2:
                print(f"\n   worker {killed[0][0]} SIGKILLed {args.seconds / 2:.0f} s into the measured window; gunicorn has "
                      f"{len(nodes[0].workers())} workers again" if killed else "\n   NO WORKER KILLED")
                ok &= bool(killed) and len(nodes[0].workers()) == WORKERS
            checks = exactly_once(url, data, res, t0, t1, ending)
            ok &= report(title, res, checks, hello if run == 1 else None, cpu, nodes)
            all_ok &= ok
        finally:
            for node in nodes:
                node.stop()
    print(f"\nbench/load.py: {'all checks passed' if all_ok else 'SOME CHECKS FAILED'}; logs and JSON in {work}")
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
