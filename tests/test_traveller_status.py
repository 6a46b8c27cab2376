"""The traveller's own status page: timeline, next action, end of the link, lookup without enumeration."""
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import zxingcpp
from PIL import Image

from kiemdich import clock, tokens
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.models import Passage
from kiemdich.traveller.status import link_expired, monitoring_day, timeline
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, CheckpointFactory, DeclarationFactory

HX = {"HX-Request": "true"}
NOW = datetime(2021, 10, 20, 3, 0, tzinfo=timezone.utc)
TODAY = date(2021, 10, 20)


class Obj:
    """A stand-in row for the pure functions."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _decl(**kw):
    base = dict(created_at=NOW - timedelta(hours=5), valid_until=NOW + timedelta(hours=67),
                deidentified_at=None, passages=[])
    return Obj(**(base | kw))


def _passage(id, decision, kind="staff", confirms_id=None, transit=False, hours_ago=1):
    return Obj(id=id, decision=decision, kind=kind, confirms_id=confirms_id, transit=transit,
               server_ts=NOW - timedelta(hours=hours_ago))


def _arrival(status, **kw):
    base = dict(status=status, plan_start=TODAY - timedelta(days=2), plan_end=TODAY + timedelta(days=4),
                arrived_at=NOW - timedelta(days=2), ended_at=None, self_monitoring_until=None,
                updated_at=NOW, measure="self_monitoring")
    return Obj(**(base | kw))


def _states(status):
    return [(s.key, s.state) for s in status.steps]


def test_declared_only_shows_the_qr():
    s = timeline(_decl(), [], None, now=NOW, today=TODAY)
    assert s.next_action == "show_qr" and s.valid_for_passage
    assert _states(s) == [("declared", "done"), ("checkpoint", "current"), ("arrived", "todo"),
                          ("monitoring", "todo"), ("completed", "todo")]


def test_expired_before_passing():
    s = timeline(_decl(valid_until=NOW - timedelta(seconds=1)), [], None, now=NOW, today=TODAY)
    assert s.next_action == "expired" and not s.valid_for_passage


def test_self_checkin_waits_then_is_confirmed():
    waiting = _passage(1, None, kind="self_checkin")
    s = timeline(_decl(), [waiting], None, now=NOW, today=TODAY)
    assert s.next_action == "wait_staff" and s.steps[1].state == "current"
    confirmed = _passage(2, "allow", confirms_id=1, hours_ago=0)
    s = timeline(_decl(), [waiting, confirmed], None, now=NOW, today=TODAY)
    assert s.next_action == "report_arrival" and s.steps[1].state == "done"


def test_refused_and_transit():
    assert timeline(_decl(), [_passage(1, "refuse")], None, now=NOW, today=TODAY).next_action == "refused"
    s = timeline(_decl(), [_passage(1, "allow", transit=True)], None, now=NOW, today=TODAY)
    assert s.next_action == "transit"


def test_arrival_expected_then_monitoring_day_x_of_n_then_completed():
    passed = [_passage(1, "allow")]
    s = timeline(_decl(), passed, _arrival("expected", arrived_at=None), now=NOW, today=TODAY)
    assert s.next_action == "report_arrival" and s.steps[2].state == "current"
    s = timeline(_decl(), passed, _arrival("monitoring"), now=NOW, today=TODAY)
    assert (s.next_action, s.day, s.days) == ("monitor", 3, 7)
    assert _states(s)[2:] == [("arrived", "done"), ("monitoring", "current"), ("completed", "todo")]
    s = timeline(_decl(), passed, _arrival("completed", ended_at=NOW), now=NOW, today=TODAY)
    assert s.next_action == "done" and [st.state for st in s.steps] == ["done"] * 5
    s = timeline(_decl(), passed, _arrival("lost_contact"), now=NOW, today=TODAY)
    assert s.next_action == "other" and s.steps[3].state == "stopped"


def test_monitoring_day_is_kept_within_the_plan():
    arrival = _arrival("monitoring", plan_start=TODAY, plan_end=TODAY + timedelta(days=6))
    assert monitoring_day(arrival, TODAY) == (1, 7)
    assert monitoring_day(arrival, TODAY + timedelta(days=6)) == (7, 7)
    assert monitoring_day(arrival, TODAY + timedelta(days=9)) == (7, 7)
    assert monitoring_day(arrival, TODAY - timedelta(days=1)) == (1, 7)
    assert monitoring_day(_arrival("monitoring", plan_start=None), TODAY) is None


def test_link_keeps_working_until_monitoring_ends_plus_grace():
    passed = _decl(passages=[_passage(1, "allow")], valid_until=NOW - timedelta(days=30))
    # Validity for passage is long over, but the follow-up goes on: the link works.
    assert not link_expired(passed, _arrival("monitoring"), now=NOW, grace_days=14)
    assert not link_expired(passed, None, now=NOW, grace_days=14)  # passed, arrival not opened yet
    done = _arrival("completed", plan_end=TODAY - timedelta(days=20), ended_at=NOW - timedelta(days=20))
    assert link_expired(passed, done, now=NOW, grace_days=14)
    assert not link_expired(passed, done, now=NOW, grace_days=30)
    never_passed = _decl(valid_until=NOW - timedelta(days=15))
    assert link_expired(never_passed, None, now=NOW, grace_days=14)
    assert not link_expired(_decl(valid_until=NOW - timedelta(days=13)), None, now=NOW, grace_days=14)
    assert link_expired(_decl(deidentified_at=NOW), _arrival("monitoring"), now=NOW, grace_days=14)


# Through HTTP ---------------------------------------------------------------------------------

def _token(app, decl):
    with app.test_request_context():
        return token_for(decl)


def test_status_fragment_for_a_fresh_declaration(app, client):
    decl = DeclarationFactory(full_name="Phạm Thị Hồng")
    db.session.commit()
    response = client.post("/q/trang-thai", data={"token": _token(app, decl)}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "Phạm Thị Hồng" in body and decl.code in body and "Việc cần làm bây giờ" in body
    assert "Qua chốt kiểm dịch" in body and '<div class="personal-qr"><svg' in body


def test_qr_is_encoded_once_per_token_and_png_made_only_on_download(app, client, monkeypatch):
    from kiemdich import qrcodes

    qrcodes.cached.cache_clear()
    qrcodes.cached_svg.cache_clear()
    encoded = []
    real = qrcodes.make
    monkeypatch.setattr(qrcodes, "make", lambda content: encoded.append(content) or real(content))
    decl = DeclarationFactory(full_name="Phạm Thị Hồng")
    db.session.commit()
    token = _token(app, decl)
    first = client.post("/q/trang-thai", data={"token": token}, headers=HX).get_data(as_text=True)
    again = client.post("/q/trang-thai", data={"token": token}, headers=HX).get_data(as_text=True)
    assert first == again and '<div class="personal-qr"><svg' in again
    assert encoded == [f"http://localhost/q#{token}"]  # the second answer drew nothing
    assert "data:image/png" not in again and 'action="/q/anh-qr"' in again and 'form="kd-save-qr"' in again
    png = client.post("/q/anh-qr", data={"token": token})
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert f'filename="ma-qr-{decl.code}.png"' in png.headers["Content-Disposition"]
    assert [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))] == [f"http://localhost/q#{token}"]
    assert encoded == [f"http://localhost/q#{token}"]  # the download reused the encoded QR
    assert client.post("/q/anh-qr", data={"token": token[:-4] + "AAAA"}).status_code == 422
    assert client.get("/q/anh-qr").status_code == 405  # the token is only ever POSTed


def test_status_while_monitoring(app, client):
    today = clock.today()
    decl = DeclarationFactory()
    cp = CheckpointFactory(name="Chốt Chơn Thành")
    db.session.flush()
    db.session.add(Passage(declaration_id=decl.id, checkpoint_id=cp.id, decision="allow",
                           client_uuid="00000000-0000-4000-8000-00000000000a"))
    ArrivalFactory(declaration=decl, status="monitoring", plan_start=today - timedelta(days=1),
                   plan_end=today + timedelta(days=5), arrived_at=clock.utcnow(), measure="home_quarantine")
    db.session.commit()
    body = client.post("/q/trang-thai", data={"token": _token(app, decl)}, headers=HX).get_data(as_text=True)
    assert "Đã qua Chốt Chơn Thành" in body and "Theo dõi: ngày 2 / 7" in body and "Cách ly tại nhà" in body
    assert "personal-qr" not in body


def test_expired_token_still_opens_the_status_but_not_the_qr(app, client):
    decl = DeclarationFactory(valid_until=clock.utcnow() - timedelta(hours=1))
    db.session.commit()
    body = client.post("/q/trang-thai", data={"token": _token(app, decl)}, headers=HX).get_data(as_text=True)
    assert "Mã QR của bạn đã hết hiệu lực qua chốt" in body and "personal-qr" not in body


def test_status_link_ends_with_a_plain_page(app, client):
    decl = DeclarationFactory()
    ArrivalFactory(declaration=decl, status="completed", plan_start=clock.today() - timedelta(days=40),
                   plan_end=clock.today() - timedelta(days=34), ended_at=clock.utcnow() - timedelta(days=34))
    db.session.commit()
    body = client.post("/q/trang-thai", data={"token": _token(app, decl)}, headers=HX).get_data(as_text=True)
    assert "Đã kết thúc theo dõi" in body
    assert decl.full_name not in body and decl.code not in body  # nothing personal any more


def test_bad_or_foreign_tokens_are_refused(app, client):
    from cryptography.hazmat.primitives.asymmetric import ec

    decl = DeclarationFactory()
    db.session.commit()
    good = _token(app, decl)
    foreign = tokens.encode(token_id=decl.token_id, valid_until=decl.valid_until, travel_date=decl.travel_date,
                            birth_year=1990, dest_commune_code="25210", vaccination="full", symptoms=False,
                            on_behalf=False, id_number="1234", full_name="X",
                            key=ec.generate_private_key(ec.SECP256R1()))
    for bad in ("", "xyz", good[:-2] + ("AA" if not good.endswith("AA") else "BB"), foreign):
        response = client.post("/q/trang-thai", data={"token": bad}, headers=HX)
        assert response.status_code == 422
        assert "Không đọc được đường dẫn này" in response.get_data(as_text=True)


def test_personal_page_is_a_shell_that_never_needs_the_token_in_the_url(app, client):
    html = client.get("/q").get_data(as_text=True)
    assert 'data-kd-status="/q/trang-thai"' in html and "js/traveller.js" in html
    assert client.get("/q/trang-thai").status_code == 405  # the token is only ever POSTed


def test_home_page_offers_the_remembered_status(app, client):
    html = client.get("/").get_data(as_text=True)
    assert 'data-kd-stored-only' in html and "js/traveller.js" in html and "/khai-bao" in html


def _lookup(client, code, year, **kw):
    return client.post("/tra-cuu", data={"csrf_token": csrf_token(client, "/tra-cuu"), "code": code,
                                         "birth_year": year}, headers=HX, **kw)


def test_lookup_by_code_and_birth_year(app, client):
    decl = DeclarationFactory(birth_year=1985)
    db.session.commit()
    found = _lookup(client, decl.code.lower().replace("0", "o"), "1985")
    body = found.get_data(as_text=True)
    assert found.status_code == 200 and decl.full_name in body and "data-kd-remember" in body
    token = re.search(r'data-kd-token="([^"]+)"', body).group(1)
    assert tokens.verify(token).token_id == decl.token_id


def test_lookup_gives_the_same_answer_for_unknown_code_and_wrong_year(app, client):
    decl = DeclarationFactory(birth_year=1985)
    db.session.commit()
    wrong_year = _lookup(client, decl.code, "1986")
    unknown = _lookup(client, "ZZZZZZZZ", "1985")
    assert wrong_year.status_code == unknown.status_code == 422

    def scrub(r):
        return re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))

    assert scrub(wrong_year) == scrub(unknown)
    assert decl.full_name not in wrong_year.get_data(as_text=True)


def test_lookup_is_rate_limited(app, client):
    app.config["KIEMDICH_LOOKUP_RATE"] = "5 per minute"
    decl = DeclarationFactory(birth_year=1985)
    db.session.commit()
    statuses = [_lookup(client, "ZZZZZZZ" + str(i), "1985").status_code for i in range(5)]
    assert statuses == [422] * 5
    assert _lookup(client, decl.code, "1985").status_code == 429  # even the right answer waits
