"""Checkpoint scanning and passage confirmation: verdict, idempotent write, routing, scope."""
import re
import threading
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from kiemdich import clock, tokens
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalEvent, AuditEvent, Passage
from kiemdich.scan import operations as ops
from tests.conftest import csrf_token
from tests.factories import AreaLevelFactory, CheckpointFactory, DeclarationFactory


@pytest.fixture
def staff(client, auth, users):
    """chot1 signed in: its checkpoint and a CSRF token for its requests."""
    auth.login("chot1")
    html = client.get("/chot/quet").get_data(as_text=True)
    return {"checkpoint": users["checkpoint"].checkpoints[0].checkpoint,
            "csrf": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)}


def _decl(**kw):
    AreaLevelFactory(area_code="79", level=4)  # origin Hồ Chí Minh City at level 4
    decl = DeclarationFactory(**kw)
    db.session.commit()
    return decl


def _post(client, staff, token=None, code=None, uuid_=None, header=True, **fields):
    data = {"chot": staff["checkpoint"].code, "decision": "allow", "test_taken": "none"}
    if token:
        data["token"] = token
    if code:
        data["code"] = code
    data.update(fields)
    uid = uuid_ or str(uuid.uuid4())
    headers = {"X-CSRFToken": staff["csrf"], "HX-Request": "true"}
    if header:
        headers["Idempotency-Key"] = uid
    else:
        data["client_uuid"] = uid
    return client.post("/chot/qua-chot", data=data, headers=headers)


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _verdict(client, staff, **data):
    return client.post("/chot/quet/xem", data={"chot": staff["checkpoint"].code, **data},
                       headers={"X-CSRFToken": staff["csrf"], "HX-Request": "true"})


# Pages and roles -------------------------------------------------------------------------------

def test_scan_page_is_for_checkpoint_staff_and_kept_offline(client, auth, staff):
    response = client.get("/chot/quet")
    assert response.status_code == 200
    assert response.headers["X-Offline-Page"] == "1"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp and "worker-src 'self'" in csp
    html = response.get_data(as_text=True)
    assert "qr-scanner" in html  # the decoder's address is given to scan.js ...
    assert '<script src="/static/vendor/qr-scanner' not in html  # ... but not loaded with the page
    assert staff["checkpoint"].code in html


@pytest.mark.parametrize("username", ["xa1", "super1", "admin1"])
def test_other_roles_get_403_everywhere(client, auth, users, username):
    decl = _decl()
    token = declarations.token_for(decl)
    auth.login(username)
    assert client.get("/chot/quet").status_code == 403
    assert client.get("/chot/hom-nay").status_code == 403
    csrf = csrf_token(client, "/")
    cp = users["checkpoint"].checkpoints[0].checkpoint
    response = client.post("/chot/qua-chot", headers={"X-CSRFToken": csrf},
                           data={"chot": cp.code, "token": token, "decision": "allow"})
    assert response.status_code == 403
    assert _count(Passage) == 0


def test_expired_session_refuses_the_write_the_way_the_outbox_expects(app, client, auth, staff):
    """Signed out: the CSRF check fails (400) and the session endpoint says 401; idle too long:
    a redirect to sign in. The outbox keeps its items in both cases and asks to sign in."""
    decl = _decl()
    token = declarations.token_for(decl)
    auth.logout()
    assert _post(client, staff, token=token).status_code == 400
    assert client.get("/dong-bo/phien").status_code == 401
    auth.login("chot1")
    html = client.get("/chot/quet").get_data(as_text=True)
    staff = {**staff, "csrf": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)}
    with client.session_transaction() as session:
        session["seen"] -= (app.config["KIEMDICH_IDLE_MINUTES"] + 1) * 60
    response = _post(client, staff, token=token)
    assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"]
    assert _count(Passage) == 0


def test_staff_cannot_write_for_another_checkpoint(client, staff):
    other = CheckpointFactory(commune_code="25210")
    decl = _decl()
    response = _post(client, {**staff, "checkpoint": other}, token=declarations.token_for(decl))
    assert response.status_code == 403
    assert "X-Outbox-Reason" in response.headers  # the outbox lists it as refused, with why
    assert _count(Passage) == 0
    assert _verdict(client, {**staff, "checkpoint": other}, token=declarations.token_for(decl)).status_code == 403


# Verdict ---------------------------------------------------------------------------------------

def test_verdict_shows_the_traveller_and_the_computed_instruction(client, staff):
    decl = _decl(full_name="Lê Thị Hoa", id_number="079123456789")
    response = _verdict(client, staff, token=declarations.token_for(decl))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Lê Thị Hoa" in html and "••••••••6789" in html and "079123456789" not in html
    assert "5 · Tự theo dõi sức khỏe 7 ngày" in html  # level 4, full: instruction 5, its code shown
    assert 'class="verdict amber"' in html and "data-outbox" in html  # self-monitoring: conditions
    assert len(response.data) < 6 * 1024


def _primary(html: str) -> str:
    """The decision value of the card's primary (first, focused) button."""
    return re.search(r'<button[^>]*value="(\w+)"[^>]*data-primary', html).group(1)


@pytest.mark.parametrize("origin,doses,band,primary,words", [
    ("01", 2, "ok", "allow", "Cho qua"),  # level 1: health declaration only
    ("79", 2, "amber", "allow", "Xét nghiệm vào ngày 1"),  # level 4, vaccinated: self-monitoring 7 days
    ("79", 1, "amber", "allow", "Cách ly tại nhà 7 ngày"),  # level 4, partly vaccinated
    ("79", 0, "red", "quarantine", "Cách ly tập trung 14 ngày"),  # level 4, unvaccinated
])
def test_verdict_band_and_primary_button_follow_the_computed_instruction(client, staff, origin, doses, band,
                                                                         primary, words):
    decl = _decl(origin_province_code=origin, origin_commune_code=None, vaccine_doses=doses,
                 last_dose_date=None if not doses else clock.today() - timedelta(days=60), symptoms=["sot", "ho"])
    html = _verdict(client, staff, token=declarations.token_for(decl)).get_data(as_text=True)
    assert f'<p class="band {band}">' in html and words in html
    assert _primary(html) == primary
    assert "Mã thật, còn hạn đến" in html and "Mã hợp lệ" not in html  # the signature is a small line
    if band == "red":  # letting through is an override that asks for a reason
        assert re.search(r'<details class="override">.*name="allow_reason"[^>]*required.*value="allow"', html, re.S)
        assert "Xét nghiệm vào ngày 1, 7, 14" in html and "Sau đó tự theo dõi sức khỏe đến" in html
    else:
        assert "allow_reason" not in html


def test_letting_through_against_a_quarantine_verdict_needs_a_reason_and_is_audited(client, staff):
    decl = _decl(vaccine_doses=0, last_dose_date=None)  # level 4, unvaccinated: centralised quarantine
    token = declarations.token_for(decl)
    response = _post(client, staff, token=token, shown="quarantine")
    assert response.status_code == 422 and _count(Passage) == 0
    assert "hãy ghi lý do cho qua" in response.get_data(as_text=True)
    assert _post(client, staff, token=token).status_code == 422  # a plain form post: no card, same rule
    response = _post(client, staff, token=token, shown="quarantine", allow_reason="Xe cứu thương, chở bệnh nhân")
    assert response.status_code == 201
    passage = db.session.scalar(select(Passage))
    assert passage.decision == "allow" and "Xe cứu thương" in passage.override_reason
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "passage.allow_against_rules"))
    assert event is not None and event.after["reason"] == "Xe cứu thương, chở bệnh nhân"


def test_an_offline_allow_on_a_milder_card_is_recorded_and_audited(client, staff):
    """The phone did not know the origin and showed conditions: the passage happened, so the sync
    records it (with an audit event) instead of refusing it."""
    decl = _decl(vaccine_doses=0, last_dose_date=None)
    assert _post(client, staff, token=declarations.token_for(decl), shown="conditions").status_code == 201
    assert _count(AuditEvent, AuditEvent.action == "passage.allow_against_rules") == 1
    assert _post(client, staff, token=declarations.token_for(_decl())).status_code == 201  # allowed by the rules
    assert _count(AuditEvent, AuditEvent.action == "passage.allow_against_rules") == 1


def test_verdict_refuses_forged_foreign_and_expired_codes(client, staff):
    decl = _decl()
    good = declarations.token_for(decl)
    raw = bytearray(tokens._unb64(good))
    raw[30] ^= 1  # one letter of the name changed: the signature no longer matches
    forged = tokens._b64(bytes(raw))
    foreign = tokens.encode(token_id=decl.token_id, valid_until=decl.valid_until, travel_date=decl.travel_date,
                            birth_year=decl.birth_year, dest_commune_code=decl.dest_commune_code,
                            vaccination="full", symptoms=False, on_behalf=False, id_number=decl.id_number,
                            full_name=decl.full_name, key=ec.generate_private_key(ec.SECP256R1()))
    expired_decl = _decl(valid_until=clock.utcnow() - timedelta(minutes=1))
    for token in (forged, foreign, declarations.token_for(expired_decl), "not-a-token"):
        response = _verdict(client, staff, token=token)
        assert response.status_code == 422, token
        assert 'class="verdict bad"' in response.get_data(as_text=True)
        assert _post(client, staff, token=token).status_code == 422
    assert _count(Passage) == 0


# Writing the passage ---------------------------------------------------------------------------

def test_passage_routes_the_arrival_in_the_same_write(client, staff):
    decl = _decl()
    response = _post(client, staff, token=declarations.token_for(decl), papers_checked="1", test_taken="rapid")
    assert response.status_code == 201 and response.headers["X-Outbox-Status"] == "created"
    passage = db.session.scalar(select(Passage))
    assert (passage.decision, passage.test_taken, passage.papers_checked, passage.kind) == ("allow", "rapid", True, "staff")
    assert passage.instruction_code == 5 and not passage.transit and not passage.instruction_overridden
    arrival = db.session.scalar(select(Arrival))
    assert arrival.passage_id == passage.id and arrival.commune_code == "25210" and arrival.status == "expected"
    assert (arrival.instruction_code, arrival.rule_version, arrival.measure) == (5, 1, "self_monitoring")
    assert _count(ArrivalEvent, ArrivalEvent.action == "routed") == 1


def test_a_failed_routing_leaves_no_passage(app, users, monkeypatch):
    decl = _decl()
    user = users["checkpoint"]

    def broken(*args, **kwargs):
        raise RuntimeError("routing failed")

    monkeypatch.setattr(ops, "route_arrival", broken)
    with pytest.raises(RuntimeError):
        ops.record_passage(user=user, checkpoint=user.checkpoints[0].checkpoint, decl=decl,
                           values=ops.PassageInput("allow"), client_uuid=str(uuid.uuid4()))
    db.session.rollback()
    assert _count(Passage) == 0 and _count(Arrival) == 0


def test_destination_outside_the_province_is_transit(client, staff):
    decl = _decl(dest_commune_code="26506")  # a ward of Hồ Chí Minh City
    token = declarations.token_for(decl)
    assert 'class="verdict amber"' in _verdict(client, staff, token=token).get_data(as_text=True)
    assert _post(client, staff, token=token).status_code == 201
    passage = db.session.scalar(select(Passage))
    assert passage.transit is True
    assert _count(Arrival) == 0


def test_turned_back_routes_nothing(client, staff):
    decl = _decl()
    assert _post(client, staff, token=declarations.token_for(decl), decision="refuse").status_code == 201
    passage = db.session.scalar(select(Passage))
    assert passage.decision == "refuse" and passage.instruction_code is None
    assert _count(Arrival) == 0


def test_replay_answers_the_original_result(client, staff):
    decl = _decl()
    token = declarations.token_for(decl)
    key = str(uuid.uuid4())
    first = _post(client, staff, token=token, uuid_=key, note="xe khách 51B")
    again = _post(client, staff, token=token, uuid_=key, note="xe khách 51B")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["X-Outbox-Status"] == "replay"
    assert _count(Passage) == 1 and _count(Arrival) == 1
    time = re.search(r"\d\d:\d\d", first.get_data(as_text=True)).group(0)
    assert time in again.get_data(as_text=True)


def test_replay_after_the_code_expired_still_answers_the_first_result(client, staff):
    decl = _decl()
    token = declarations.token_for(decl)
    key = str(uuid.uuid4())
    assert _post(client, staff, token=token, uuid_=key).status_code == 201
    decl.valid_until = clock.utcnow() - timedelta(minutes=1)  # the answer was lost; the code expired since
    db.session.commit()
    response = _post(client, staff, token=token, uuid_=key)
    assert response.status_code == 200 and response.headers["X-Outbox-Status"] == "replay"
    other = declarations.token_for(_decl())  # the same UUID naming someone else is still refused
    assert _post(client, staff, token=other, uuid_=key).status_code == 422
    assert _count(Passage) == 1


def test_double_tap_with_the_uuid_in_the_body_records_once(client, staff):
    decl = _decl()
    token = declarations.token_for(decl)
    key = str(uuid.uuid4())
    codes = [_post(client, staff, token=token, uuid_=key, header=False).status_code for _ in range(2)]
    assert codes == [201, 200]
    assert db.session.scalar(select(Passage.client_uuid)) == key
    assert _count(Passage) == 1


def test_same_uuid_with_a_different_body_is_refused(client, staff):
    decl = _decl()
    token = declarations.token_for(decl)
    key = str(uuid.uuid4())
    assert _post(client, staff, token=token, uuid_=key).status_code == 201
    response = _post(client, staff, token=token, uuid_=key, decision="refuse")
    assert response.status_code == 422
    assert response.headers["X-Outbox-Reason"]
    passage = db.session.scalar(select(Passage))
    assert passage.decision == "allow" and _count(Passage) == 1


def test_second_scan_at_the_same_checkpoint_says_already_confirmed(client, staff, users):
    decl = _decl()
    token = declarations.token_for(decl)
    assert _post(client, staff, token=token).status_code == 201
    first = db.session.scalar(select(Passage))
    html = _verdict(client, staff, token=declarations.token_for(decl)).get_data(as_text=True)
    assert 'class="verdict done"' in html and first.server_ts.astimezone(clock.LOCAL).strftime("%H:%M") in html
    assert "data-outbox" not in html  # no form: nothing to confirm twice
    second = _post(client, staff, token=token)  # another device, another UUID
    assert second.status_code == 200 and second.headers["X-Outbox-Status"] == "already"
    assert _count(Passage) == 1
    # At another of the user's checkpoints the same traveller is a new passage.
    other = CheckpointFactory(commune_code="25210")
    users["checkpoint"].checkpoints.append(type(users["checkpoint"].checkpoints[0])(checkpoint_id=other.id))
    db.session.commit()
    assert _post(client, {**staff, "checkpoint": other}, token=token).status_code == 201
    assert _count(Passage) == 2


def test_offline_passage_keeps_the_time_it_was_made(client, staff):
    made = clock.utcnow() - timedelta(hours=2)
    decl = _decl(valid_until=clock.utcnow() - timedelta(minutes=30))  # expired since, valid then
    response = _post(client, staff, token=declarations.token_for(decl), client_ts=made.isoformat())
    assert response.status_code == 201
    passage = db.session.scalar(select(Passage))
    assert abs((passage.client_ts - made).total_seconds()) < 1 and passage.server_ts > made
    arrival = db.session.scalar(select(Arrival))
    assert abs((arrival.expected_at - made).total_seconds()) < 1
    # A device clock far off is not believed: then the token counts as expired now.
    decl2 = _decl(valid_until=clock.utcnow() - timedelta(minutes=30))
    old = (clock.utcnow() - timedelta(days=30)).isoformat()
    assert _post(client, staff, token=declarations.token_for(decl2), client_ts=old).status_code == 422


def test_instruction_override_needs_a_reason_and_is_audited(client, staff):
    decl = _decl()
    token = declarations.token_for(decl)
    response = _post(client, staff, token=token, instruction="7")
    assert response.status_code == 422 and _count(Passage) == 0
    response = _post(client, staff, token=token, instruction="7", override_reason="Ho nhiều, sốt nhẹ")
    assert response.status_code == 201
    passage = db.session.scalar(select(Passage))
    assert (passage.instruction_code, passage.instruction_overridden) == (7, True)
    assert passage.override_reason == "Ho nhiều, sốt nhẹ"
    arrival = db.session.scalar(select(Arrival))
    assert (arrival.instruction_code, arrival.measure, arrival.rule_version) == (7, "home_quarantine", 1)
    assert (arrival.plan_end - arrival.plan_start).days == 6
    assert _count(AuditEvent, AuditEvent.action == "passage.override_instruction") == 1


def test_centralised_quarantine_gets_a_centralised_instruction(client, staff):
    decl = _decl()  # computed: 5, self-monitoring
    assert _post(client, staff, token=declarations.token_for(decl), decision="quarantine").status_code == 201
    passage = db.session.scalar(select(Passage))
    assert passage.instruction_code == 8 and passage.instruction_overridden
    assert db.session.scalar(select(Arrival.measure)) == "central_quarantine"


def test_lookup_by_code_phone_or_id_opens_the_card(client, staff):
    decl = _decl(phone="0987654321", id_number="079200001111")
    for query in ("0987 654 321", "079200001111", decl.code.lower()):
        html = client.post("/chot/quet/tim", data={"q": query, "chot": staff["checkpoint"].code},
                           headers={"X-CSRFToken": staff["csrf"], "HX-Request": "true"}).get_data(as_text=True)
        assert decl.full_name in html and decl.code in html, query
    # Never in a URL: the GET form of the lookup is gone.
    assert client.get("/chot/quet/tim", query_string={"q": "0987654321", "chot": staff["checkpoint"].code}).status_code == 405
    assert decl.full_name in _verdict(client, staff, code=decl.code).get_data(as_text=True)
    assert _post(client, staff, code=decl.code).status_code == 201


# Self check-ins and today's list ---------------------------------------------------------------

def test_pending_self_checkin_is_listed_then_confirmed_by_the_scan(client, staff):
    decl = _decl()
    checkin, _created = declarations.self_checkin(declarations.token_for(decl), staff["checkpoint"])
    db.session.commit()
    html = client.get("/chot/hom-nay").get_data(as_text=True)
    assert f"checkin-{checkin.id}" in html
    assert "Đã tự báo có mặt" in _verdict(client, staff, token=declarations.token_for(decl)).get_data(as_text=True)
    assert _post(client, staff, token=declarations.token_for(decl)).status_code == 201
    staff_passage = db.session.scalar(select(Passage).where(Passage.kind == "staff"))
    assert staff_passage.confirms_id == checkin.id
    assert f"checkin-{checkin.id}" not in client.get("/chot/hom-nay").get_data(as_text=True)


def test_pending_self_checkin_can_be_rejected(client, staff):
    decl = _decl()
    checkin, _created = declarations.self_checkin(declarations.token_for(decl), staff["checkpoint"])
    db.session.commit()
    response = _post(client, staff, code=decl.code, decision="refuse", checkin=str(checkin.id),
                     note="Không có mặt tại chốt")
    assert response.status_code == 201
    assert db.session.scalar(select(Passage.confirms_id).where(Passage.kind == "staff")) == checkin.id
    assert ops.pending_checkins([staff["checkpoint"].id], clock.utcnow()) == []


def test_todays_list_is_paginated_htmx_fragments(client, staff):
    for _ in range(23):
        assert _post(client, staff, token=declarations.token_for(_decl())).status_code == 201
    page = client.get("/chot/hom-nay").get_data(as_text=True)
    assert page.count('<span class="time">') == 20 and "trang=2" in page and "23" in page
    rows = client.get("/chot/hom-nay?trang=2", headers={"HX-Request": "true"})
    assert rows.get_data(as_text=True).count('<span class="time">') == 3 and "trang=3" not in rows.get_data(as_text=True)
    assert "<html" not in rows.get_data(as_text=True) and len(rows.data) < 5 * 1024


# Offline support: rules, service worker, manifest ----------------------------------------------

def test_rules_for_offline_use(client):
    data = client.get("/quy-tac.json").get_json()
    line = [r for r in data["rules"] if r[0] == 4 and r[1] == "full"][0]
    assert line[2] == 5 and data["instructions"]["5"] == "Tự theo dõi sức khỏe 7 ngày"
    assert "25210" in data["communes"] and len(data["provinces"]) == 34
    etag = client.get("/quy-tac.json").headers["ETag"]
    response = client.get("/quy-tac.json", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""  # conditional GET: phones revalidate cheaply
    assert response.headers["ETag"] == etag
    assert client.get("/quy-tac.json", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_service_worker_is_served_at_the_root_with_a_version(client):
    response = client.get("/sw.js")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/" and "no-cache" in response.headers["Cache-Control"]
    version = re.search(r'var VERSION = "([0-9a-f]{12})"', body)
    assert version and "__VERSION__" not in body
    assert client.get("/ngoai-tuyen").status_code == 200


def test_manifest_opens_each_role_on_its_screen(client, auth, users):
    assert client.get("/manifest.webmanifest").get_json()["start_url"] == "/"
    auth.login("chot1")
    assert client.get("/manifest.webmanifest").get_json()["start_url"] == "/chot/quet"
    auth.logout()
    auth.login("xa1")
    assert client.get("/manifest.webmanifest").get_json()["start_url"] == "/xa"


def test_outbox_session_endpoint(client, auth, users):
    assert client.get("/dong-bo/phien").status_code == 401
    auth.login("chot1")
    data = client.get("/dong-bo/phien").get_json()
    assert data["user"] == "chot1" and data["csrf"]


# Concurrency (PostgreSQL) ----------------------------------------------------------------------

def _concurrently(app, n, work):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        with app.app_context():
            try:
                barrier.wait(5)
                results.append(work(i))
                db.session.commit()
            except Exception as err:  # noqa: BLE001  (reported below)
                db.session.rollback()
                errors.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


@pytest.mark.parametrize("same_uuid", [True, False])
def test_concurrent_writes_record_one_passage(app, users, same_uuid):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL only")
    decl = _decl()
    user_id, cp_id, decl_id = users["checkpoint"].id, users["checkpoint"].checkpoint_ids[0], decl.id
    key = str(uuid.uuid4())
    db.session.commit()

    def work(i):
        from kiemdich.models import Checkpoint, Declaration, User

        return ops.record_passage(user=db.session.get(User, user_id), checkpoint=db.session.get(Checkpoint, cp_id),
                                  decl=db.session.get(Declaration, decl_id), values=ops.PassageInput("allow"),
                                  client_uuid=key if same_uuid else str(uuid.uuid4()))[1]

    results, errors = _concurrently(app, 4, work)
    assert errors == []
    assert sorted(results) == sorted(["created"] + (["replay"] * 3 if same_uuid else ["already"] * 3))
    db.session.expire_all()
    assert _count(Passage) == 1 and _count(Arrival) == 1




def test_scan_screen_lists_the_self_checkins_waiting_there(client, staff):
    decl = _decl(full_name="Đặng Thị Mai")
    checkin, _created = declarations.self_checkin(declarations.token_for(decl), staff["checkpoint"])
    db.session.commit()
    html = client.get(f"/chot/tu-bao?chot={staff['checkpoint'].code}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Đặng Thị Mai" in html and f"checkin-{checkin.id}" in html and decl.code in html
    other = CheckpointFactory(commune_code="25210")
    db.session.commit()
    assert client.get(f"/chot/tu-bao?chot={other.code}").status_code == 403


# Holes that one-line mutations slipped through (issue 15) ---------------------------------------

def test_same_uuid_with_another_note_is_refused_not_answered_as_a_replay(app, users):
    """The note is part of what a replay must repeat: a different note under the same key is a
    conflict (the first note stays), not the first result answered again."""
    decl = _decl()
    user, checkpoint = users["checkpoint"], users["checkpoint"].checkpoints[0].checkpoint
    key = str(uuid.uuid4())
    ops.record_passage(user=user, checkpoint=checkpoint, decl=decl,
                       values=ops.PassageInput("allow", note="Có giấy xét nghiệm"), client_uuid=key)
    db.session.commit()
    passage, outcome = ops.record_passage(user=user, checkpoint=checkpoint, decl=decl,
                                          values=ops.PassageInput("allow", note="Có giấy xét nghiệm"),
                                          client_uuid=key)
    assert outcome == "replay"
    with pytest.raises(ops.PassageError) as refused:
        ops.record_passage(user=user, checkpoint=checkpoint, decl=decl,
                           values=ops.PassageInput("allow", note="Không có giấy"), client_uuid=key)
    assert refused.value.reason == "conflict"
    db.session.rollback()
    assert db.session.scalars(select(Passage.note)).all() == ["Có giấy xét nghiệm"]


def test_a_typed_declaration_code_is_refused_once_expired(client, staff):
    """Staff typing the code (no QR) get the same expiry check as a scanned token."""
    decl = _decl(valid_until=clock.utcnow() - timedelta(minutes=1))
    with pytest.raises(ops.PassageError) as refused:
        ops.resolve(code=decl.code, at=clock.utcnow())
    assert refused.value.reason == "expired"
    assert ops.resolve(code=decl.code, at=clock.utcnow() - timedelta(minutes=2)) == decl
    response = _post(client, staff, code=decl.code)
    assert response.status_code == 422
    assert "Mã QR đã hết hạn qua chốt." in response.get_data(as_text=True)
    assert _count(Passage) == 0 and _count(Arrival) == 0
