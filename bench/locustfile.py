"""Locust users for bench/load.py: the province's traffic mix against one or several app nodes.

Not meant to be run alone: bench/load.py prepares the database, starts gunicorn and passes
everything through environment variables:

    KD_BENCH_DATA   JSON written by load.py (accounts, checkpoints, communes, pre-made travellers)
    KD_BENCH_OUT    where this file writes what the clients saw (accepted keys, statuses, timings)
    KD_HOSTS        comma-separated base URLs; every request goes to the next one (a round-robin
                    load balancer), so one session alternates between the nodes
    KD_RUN          which slice of the pre-made travellers this run may use (runs never share one)
    KD_IP_BASE      second octet of the source addresses of this run's phones (127.<base>.x.y)
    KD_SECONDS      length of the measured window, from the moment every user has signed in

Every simulated phone connects from its own loopback address (Linux routes all of 127.0.0.0/8
to lo), as real phones come from their own addresses: the per-IP rate limits stay at their
production values and are never reached by design. The mix is counted in requests: 70 %
traveller (declaration form and post, status page, lookup), 20 % passage confirmations by
checkpoint staff, 10 % commune officer lists, person page and daily checks.

Writes are sent like the outbox sends them: each has its key (form nonce, client UUID) and a
lost connection is retried with the same key until the server answers.
"""
import collections
import itertools
import json
import os
import random
import re
import uuid
from datetime import datetime, timezone

import gevent
from locust import HttpUser, constant, events, task
from locust.clients import HttpSession
from urllib3 import PoolManager

DATA = json.loads(open(os.environ["KD_BENCH_DATA"], encoding="utf-8").read()) if "KD_BENCH_DATA" in os.environ else {}
HOSTS = [h.rstrip("/") for h in os.environ.get("KD_HOSTS", "").split(",") if h]
RUN = int(os.environ.get("KD_RUN", "0"))
IP_BASE = int(os.environ.get("KD_IP_BASE", "10"))
PASSWORD = DATA.get("password", "")
HX = {"HX-Request": "true"}
WRITE_RETRIES = 8  # a lost answer is retried with the same key, as the outbox does

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
HX_CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
NONCE = re.compile(r'name="nonce"[^>]*value="([0-9a-f]{16})"|value="([0-9a-f]{16})"[^>]*name="nonce"')
CONSENT = re.compile(r'name="consent_version"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="consent_version"')
TOKEN = re.compile(r'data-kd-token="([^"]+)"')
CODE = re.compile(r'class="code">([0-9A-Z]+)<')


class Seen:
    """What the clients saw, written to KD_BENCH_OUT when the run stops."""

    def __init__(self):
        self.passages = collections.defaultdict(list)  # client UUID -> X-Outbox-Status answers (None: error)
        self.pairs = []  # (key, key): one QR confirmed at once from two staff phones
        self.checks = {}  # client UUID -> True once a 200 was seen
        self.declarations = {}  # form nonce -> True once the slip was seen
        self.lost = collections.Counter()  # lost connections, by request name
        self.statuses = collections.Counter()  # "name status" -> count
        self.cases = collections.Counter()  # resends and races sent on purpose, by kind
        self.anomalies = []  # a resend or race answered otherwise than it should be
        self.raced_arrivals = []  # declaration codes of the two-officer races
        self.checkins = []  # form nonces (token ids) of the travellers who checked in themselves
        self.unexpected = []  # (name, status, reason), first 50

    def anomaly(self, case, answers):
        self.anomalies.append((case, answers))


RESEND, TWIN, TWO_PHONES = 0.05, 0.03, 0.02  # shares of the writes sent again on purpose (see Mix)
TWO_OFFICERS = 0.15  # share of the daily checks made at once by two officers on someone not yet confirmed


SEEN = Seen()
_hosts = itertools.cycle(HOSTS or ["http://127.0.0.1:1"])
_ips = itertools.count(1)


def next_ip() -> str:
    """A loopback source address no other phone of this run uses."""
    n = next(_ips)
    if n >= 250 * 250:
        raise RuntimeError("out of source addresses")
    return f"127.{IP_BASE}.{n // 250}.{n % 250 + 1}"


def phone(user) -> HttpSession:
    """A browser on its own phone: its own source address, cookies and keep-alive connection."""
    return HttpSession(HOSTS[0], user.environment.events.request, user,
                       pool_manager=PoolManager(num_pools=len(HOSTS), maxsize=1, source_address=(next_ip(), 0)))


def call(session, method, path, *, name, ok=(200,), retries=WRITE_RETRIES, **kwargs):
    """One request through the round-robin "load balancer"; a lost connection (a killed worker)
    is counted apart and tried again, the same request, as a phone or the outbox would.
    Returns the response, or None when the final answer was not one of `ok` (an error)."""
    for attempt in range(retries + 1):
        url = next(_hosts) + path
        with session.request(method, url, name=name, catch_response=True, allow_redirects=False,
                             timeout=60, **kwargs) as resp:
            status = resp.status_code
            if status == 0 and attempt < retries:
                resp.request_meta["name"] = "(lost connection, retried)"
                resp.success()
                SEEN.lost[name] += 1
                lost = True
            else:
                lost = False
                SEEN.statuses[f"{name} {status}"] += 1
                if status in ok:
                    resp.success()
                else:
                    reason = resp.headers.get("X-Outbox-Reason", "") if status else repr(resp.error)
                    resp.failure(f"HTTP {status} {reason[:120]}")
                    if len(SEEN.unexpected) < 50:
                        SEEN.unexpected.append((name, status, reason[:300], (resp.text or "")[:300]))
                    return None
                return resp
        if lost:
            gevent.sleep(0.2 * (attempt + 1))
    return None


def together(*calls):
    """Send at once (gevent): the outbox replaying while the original is still on its way,
    or two phones confirming the same QR."""
    jobs = [gevent.spawn(c) for c in calls]
    gevent.joinall(jobs)
    return [j.value for j in jobs]


def _first(match) -> str:
    return next(g for g in match.groups() if g is not None) if match else ""


# Pools shared by the users of this process -----------------------------------------------------

TRAVELLERS = collections.deque()  # (token, code, birth_year) of people who declared, for status and lookup
SCAN_QUEUE = collections.deque()  # tokens of people who declared at a checkpoint, waiting to be scanned
PREMADE_SCAN = collections.deque()  # pre-made declarations for staff to scan once the queue is empty
ARRIVALS = collections.deque()  # arrival codes the bench officers follow
FRESH = collections.deque()  # arrivals nobody has confirmed yet, for the two-officer race


@events.init.add_listener
def _fill(environment, **_kw):
    if not DATA:
        return
    mine = DATA["premade"][RUN - 1::DATA["runs"]]
    half = len(mine) // 2
    PREMADE_SCAN.extend(t["token"] for t in mine[:half])
    TRAVELLERS.extend((t["token"], t["code"], t["birth_year"], None) for t in mine[half:])
    ARRIVALS.extend(DATA["arrivals"])
    FRESH.extend(DATA["fresh_arrivals"][RUN - 1::DATA["runs"]])


@events.quitting.add_listener
def _write(environment, **_kw):
    out = os.environ.get("KD_BENCH_OUT")
    if not out:
        return
    stats = {}
    for (name, method), entry in environment.stats.entries.items():
        if name.startswith("("):
            continue  # lost connections: counted by endpoint in "lost"
        stats[name] = {  # names carry their method already
            "requests": entry.num_requests, "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.50), "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99), "rps": entry.total_rps,
            "avg": entry.avg_response_time}
    total = environment.stats.total
    json.dump({
        "stats": stats,
        "total": {"requests": total.num_requests, "failures": total.num_failures, "rps": total.total_rps,
                  "p50": total.get_response_time_percentile(0.50), "p95": total.get_response_time_percentile(0.95),
                  "p99": total.get_response_time_percentile(0.99),
                  "seconds": (total.last_request_timestamp or 0) - (total.start_time or 0)},
        "passages": SEEN.passages, "pairs": SEEN.pairs, "checks": SEEN.checks, "declarations": SEEN.declarations,
        "lost": dict(SEEN.lost), "statuses": dict(SEEN.statuses), "cases": dict(SEEN.cases),
        "anomalies": SEEN.anomalies, "raced_arrivals": SEEN.raced_arrivals,
        "checkins": SEEN.checkins,
        "unexpected": SEEN.unexpected, "errors": {f"{k[0]} {k[1]}: {k[2]}": v.occurrences
                                                  for k, v in environment.stats.errors.items()},
    }, open(out, "w", encoding="utf-8"), ensure_ascii=False, indent=1)


# The mix ----------------------------------------------------------------------------------------

def _traveller_form(rng: random.Random, csrf: str, nonce: str, consent: str) -> dict:
    """A declaration as a traveller fills it in (demo-like person, trip into the province)."""
    person = rng.choice(DATA["people"])
    origin_province, origin = rng.choice(DATA["origins"])
    contact_province, contact = rng.choice(DATA["origins"])
    doses = rng.choices(["0", "1", "2", "3"], [0.1, 0.2, 0.5, 0.2])[0]
    today = datetime.now(timezone.utc).astimezone().date()
    return {
        "csrf_token": csrf, "nonce": nonce, "consent_version": consent, "consent": "y",
        "full_name": person["full_name"], "id_type": "cccd",
        "id_number": "0" + "".join(rng.choice("0123456789") for _ in range(11)),
        "birth_year": str(person["birth_year"]), "birth_date": "", "sex": person["sex"],
        "phone": rng.choice(["09", "03", "07", "08"]) + "".join(rng.choice("0123456789") for _ in range(8)),
        "nationality": "Việt Nam", "contact_province": contact_province, "contact": contact,
        "contact_street": "Số 12 đường Phú Riềng Đỏ", "origin_province": origin_province, "origin": origin,
        "origin_street": "", "dest_province": "75", "dest": rng.choice(DATA["dest_communes"]),
        "dest_street": "Tổ 3, khu phố Tân Bình", "travel_date": today.isoformat(),
        "vehicle_type": "xe_may", "vehicle_plate": f"93F1-{rng.randint(10000, 99999)}", "vehicle_seat": "",
        "places_visited": "TP. Hồ Chí Minh", "vaccine_doses": doses,
        "last_dose_date": "2026-01-02" if doses != "0" else "", "recovered_date": "",
        "test_kind": "", "test_date": "",
    }


_ready = itertools.count(1)


def _signed_in(environment):
    """When the last user has signed in, the statistics start again and the run lasts KD_SECONDS
    from then: the measured window holds the mix only, not the burst of sign-ins (argon2, slow on
    purpose) at the start. A file KD_BENCH_OUT.ready tells load.py when the window opened."""
    if next(_ready) == environment.runner.target_user_count:
        environment.runner.stats.reset_all()
        if os.environ.get("KD_SECONDS"):
            gevent.spawn_later(float(os.environ["KD_SECONDS"]), environment.runner.quit)
        if os.environ.get("KD_BENCH_OUT"):
            open(os.environ["KD_BENCH_OUT"] + ".ready", "w").close()


class Mix(HttpUser):
    """One load-generating client: a stream of phones (travellers), plus one checkpoint staff
    session and one commune officer session signed in at start. Each task is one request."""

    wait_time = constant(0)  # closed loop: throughput is what the nodes can serve
    _count = itertools.count()

    def on_start(self):
        n = next(self._count)
        self.rng = random.Random(RUN * 1000 + n)
        self.journey = None  # the current traveller's next step
        self.staff = self._sign_in(DATA["staff"][n % len(DATA["staff"])], "/chot/quet")
        self.officer = self._sign_in(DATA["officers"][n % len(DATA["officers"])], "/xa")
        self.commune_step = 0
        _signed_in(self.environment)

    def _sign_in(self, username, landing):
        session = phone(self)
        page = call(session, "GET", "/dang-nhap", name="setup: GET /dang-nhap")
        resp = call(session, "POST", "/dang-nhap", name="setup: POST /dang-nhap", ok=(302,),
                    data={"username": username, "password": PASSWORD, "csrf_token": _first(CSRF.search(page.text))})
        if resp is None:
            raise RuntimeError(f"sign-in of {username} failed")
        page = call(session, "GET", landing, name=f"setup: GET {landing}")
        session.csrf = _first(HX_CSRF.search(page.text)) or _first(CSRF.search(page.text))
        return session

    # Travellers: 70 % of the requests --------------------------------------------------------

    @task(50)
    def traveller_journey(self):
        """Poster QR or link -> form -> send -> status page (-> self check-in at the checkpoint, then
        the staff scan this traveller), one request per step."""
        j = self.journey
        if j is None:
            session = phone(self)
            checkpoint = self.rng.choice(DATA["checkpoints"]) if self.rng.random() < 0.7 else None
            path = f"/c/{checkpoint}" if checkpoint else "/khai-bao"
            page = call(session, "GET", path, name="GET /c/[code]" if checkpoint else "GET /khai-bao")
            if page is not None:
                html = page.text
                self.journey = {"session": session, "path": path, "checkpoint": checkpoint,
                                "csrf": _first(CSRF.search(html)), "nonce": _first(NONCE.search(html)),
                                "consent": _first(CONSENT.search(html))}
        elif "token" not in j:
            form = _traveller_form(self.rng, j["csrf"], j["nonce"], j["consent"])

            def send():
                return call(j["session"], "POST", j["path"], name="POST /c/[code]" if j["checkpoint"] else "POST /khai-bao",
                            data=form, headers=HX)

            if self.rng.random() < TWIN:  # a double tap: the same form sent twice at once
                first, second = together(send, send)
                SEEN.cases["declaration double tap"] += 1
                codes = [_first(CODE.search(r.text)) if r is not None else None for r in (first, second)]
                if not codes[0] or codes[0] != codes[1]:
                    SEEN.anomaly("declaration double tap", codes)
                resp = first
            else:
                resp = send()
            token = _first(TOKEN.search(resp.text)) if resp is not None else ""
            if not token:
                if resp is not None:
                    resp.failure("no personal QR on the answer")
                self.journey = None
                return
            SEEN.declarations[j["nonce"]] = True
            j["token"] = token
            TRAVELLERS.append((token, _first(CODE.search(resp.text)), form["birth_year"], j["session"]))
        elif "status" not in j:
            j["status"] = call(j["session"], "POST", "/q/trang-thai", name="POST /q/trang-thai",
                               data={"token": j["token"]}, headers=HX)
            if not j["checkpoint"]:
                self.journey = None
        else:
            self._check_in(j)
            SCAN_QUEUE.append(j["token"])  # now the staff scan this traveller
            self.journey = None

    def _check_in(self, j):
        """At the checkpoint, the phone taps "Tôi đang ở chốt này" (a self check-in waiting for
        staff). On purpose: a double tap (3 %, the same key at once) and two tabs (2 %, two keys
        at once); one check-in must come of each."""
        path = f"/c/{j['checkpoint']}/co-mat"

        def tap(key):
            return call(j["session"], "POST", path, name="POST /c/[code]/co-mat", headers=HX,
                        data={"csrf_token": j["csrf"], "token": j["token"], "client_uuid": key}) is not None

        key, r = str(uuid.uuid4()), self.rng.random()
        SEEN.checkins.append(j["nonce"])
        if r < TWIN + TWO_PHONES:
            case = "self check-in double tap" if r < TWIN else "self check-in from two tabs at once"
            answers = together(lambda: tap(key), lambda: tap(key if r < TWIN else str(uuid.uuid4())))
            SEEN.cases[case] += 1
            if answers != [True, True]:
                SEEN.anomaly(case, answers)
        else:
            tap(key)

    def _earlier_traveller(self):
        """Someone who declared before, on their own phone; round robin, so no one is asked twice
        in a short run (their address stays far below the per-IP limits)."""
        token, code, year, session = TRAVELLERS.popleft()
        session = session or phone(self)
        TRAVELLERS.append((token, code, year, session))
        return token, code, year, session

    @task(12)
    def traveller_status_again(self):
        token, _code, _year, session = self._earlier_traveller()
        call(session, "POST", "/q/trang-thai", name="POST /q/trang-thai", data={"token": token}, headers=HX)

    @task(8)
    def traveller_lookup(self):
        _token, code, year, session = self._earlier_traveller()
        page = call(session, "GET", "/tra-cuu", name="GET /tra-cuu")
        if page is not None:
            call(session, "POST", "/tra-cuu", name="POST /tra-cuu", headers=HX,
                 data={"code": code, "birth_year": year, "csrf_token": _first(CSRF.search(page.text))})

    # Checkpoint staff: 20 % ------------------------------------------------------------------

    @task(20)
    def staff_confirm(self):
        """A scanned traveller let through (sometimes turned back or sent to quarantine), sent with
        its client UUID. On purpose, some are sent again: after the answer (5 %: the answer was
        lost on a bad line and the outbox resends), at the same time with the same UUID (3 %: the
        outbox replays while the original is still on its way) and at the same time from two
        phones with two UUIDs (2 %: two staff scan the same QR). A lost connection is retried."""
        token = SCAN_QUEUE.popleft() if SCAN_QUEUE else PREMADE_SCAN.popleft() if PREMADE_SCAN else None
        if token is None:
            return
        decision = self.rng.choices(["allow", "refuse", "quarantine"], [0.9, 0.04, 0.06])[0]
        form = {"token": token, "chot": self.rng.choice(DATA["checkpoints"]), "decision": decision,
                "test_taken": "none", "papers_checked": "1", "client_ts": datetime.now(timezone.utc).isoformat()}
        if decision == "allow":
            # A few travellers come from a level-4 area unvaccinated: the card says centralised
            # quarantine, and letting them through needs a reason (issue 11). The reason is ignored
            # for everyone the rules let through.
            form["allow_reason"] = "Có giấy xét nghiệm âm tính"

        def send(key):
            resp = call(self.staff, "POST", "/chot/qua-chot", name="POST /chot/qua-chot", ok=(200, 201), data=form,
                        headers={"X-CSRFToken": self.staff.csrf, "Idempotency-Key": key, **HX})
            answer = resp.headers.get("X-Outbox-Status") if resp is not None else None
            SEEN.passages[key].append(answer)
            return answer

        key, r = str(uuid.uuid4()), self.rng.random()
        if r < TWIN:
            case, answers, expected = "passage sent twice at once", together(lambda: send(key), lambda: send(key)), \
                ["created", "replay"]
        elif r < TWIN + TWO_PHONES:
            other = str(uuid.uuid4())
            SEEN.pairs.append((key, other))
            case, answers, expected = "passage from two phones at once", together(lambda: send(key), lambda: send(other)), \
                ["already", "created"]
        else:
            answers = [send(key)]
            if self.rng.random() >= RESEND / (1 - TWIN - TWO_PHONES):
                return
            case, expected = "passage resent after its answer", ["created", "replay"]
            answers.append(send(key))
        SEEN.cases[case] += 1
        if sorted(answers, key=str) != expected:
            SEEN.anomaly(case, answers)

    # Commune officers: 10 % ------------------------------------------------------------------

    @task(10)
    def commune(self):
        """Home, a list page, a person, a daily check: in turn."""
        step = self.commune_step % 4
        self.commune_step += 1
        s = self.officer
        if step == 0:
            call(s, "GET", "/xa", name="GET /xa")
        elif step == 1:
            key = self.rng.choice(["due", "expected", "monitoring"])
            call(s, "GET", f"/xa/ds/{key}/dong?q=", name="GET /xa/ds/[list]/dong", headers=HX)
        else:
            code = ARRIVALS[0]
            ARRIVALS.rotate(-1)
            if step == 2:
                call(s, "GET", f"/xa/nguoi-den/{code}", name="GET /xa/nguoi-den/[code]", headers=HX)
                return
            if FRESH and self.rng.random() < TWO_OFFICERS:
                self._two_officers(FRESH.popleft())
                return
            key = str(uuid.uuid4())
            SEEN.checks[key] = False
            form = {"client_uuid": key, "temperature": "36.8", "present": "1", "test_result": "", "source": "phone",
                    "spo2": "98", "client_ts": datetime.now(timezone.utc).isoformat()}

            def send():
                resp = call(s, "POST", f"/xa/nguoi-den/{code}/kiem-tra", name="POST /xa/nguoi-den/[code]/kiem-tra",
                            headers={"X-CSRFToken": s.csrf, **HX}, data=form)
                if resp is not None:
                    SEEN.checks[key] = True
                return resp is not None

            r = self.rng.random()
            if r < TWIN + RESEND:  # the outbox replaying at once, or after a lost answer
                case = "check sent twice at once" if r < TWIN else "check resent after its answer"
                answers = together(send, send) if r < TWIN else [send(), send()]
                SEEN.cases[case] += 1
                if answers != [True, True]:
                    SEEN.anomaly(case, answers)
            else:
                send()


    def _two_officers(self, code):
        """Two officers (or an officer and the outbox of another) record the first check of someone
        expected, at the same time: two checks, and the arrival confirmed once."""
        keys = [str(uuid.uuid4()), str(uuid.uuid4())]

        def send(key, session):
            SEEN.checks[key] = False
            resp = call(session, "POST", f"/xa/nguoi-den/{code}/kiem-tra", name="POST /xa/nguoi-den/[code]/kiem-tra",
                        headers={"X-CSRFToken": session.csrf, **HX},
                        data={"client_uuid": key, "temperature": "36.9", "present": "1", "test_result": "",
                              "source": "visit", "client_ts": datetime.now(timezone.utc).isoformat()})
            SEEN.checks[key] = resp is not None
            return resp is not None

        SEEN.cases["first check by two officers at once"] += 1
        SEEN.raced_arrivals.append(code)
        answers = together(lambda: send(keys[0], self.officer), lambda: send(keys[1], self.officer))
        if answers != [True, True]:
            SEEN.anomaly("first check by two officers at once", answers)


class Hello(HttpUser):
    """The baseline: the same client code against a hello-world Flask app."""

    wait_time = constant(0)

    def on_start(self):
        self.session = phone(self)

    @task
    def hello(self):
        call(self.session, "GET", "/", name="GET / (hello-world)", retries=0)
