"""Everyone gets their own link: the commune officer hands a returnee imported from a list (or
declared by staff) their status link by SMS, share sheet or QR; the link shows today's task for
the whole monitoring although its passage window is long over; the hand-over is audited."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select

from kiemdich import clock
from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, DeclarationFactory, UserFactory

HX = {"HX-Request": "true"}


def hand_over(client, code, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client, "/xa")} | (HX if htmx else {})
    return client.post(f"/xa/nguoi-den/{code}/duong-dan", headers=headers)


def imported(status="monitoring", **kwargs):
    """A person from an imported list: no web declaration, passage window closed days ago."""
    decl = DeclarationFactory(full_name="Đặng Văn Lộc", phone="0912345678", source="import",
                              valid_until=clock.utcnow() - timedelta(days=5))
    arrival = ArrivalFactory(declaration=decl, status=status, measure="home_quarantine",
                             plan_start=clock.today() - timedelta(days=2), plan_end=clock.today() + timedelta(days=4),
                             arrived_at=clock.utcnow() - timedelta(days=2), **kwargs)
    db.session.commit()
    return arrival


def handovers():
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "arrival.link_handover")).all()


def test_officer_hands_an_imported_person_their_link_by_sms_share_or_qr(app, client, auth, users):
    arrival = imported()
    code = arrival.declaration.code
    auth.login("xa1")
    detail = client.get(f"/xa/nguoi-den/{code}").get_data(as_text=True)
    assert "Gửi đường dẫn cho người này" in detail and "js/handover.js" in detail
    assert "/q#" not in detail and handovers() == []  # the link is not on the (offline-cached) page itself

    response = hand_over(client, code)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    sms = re.search(r'href="(sms:[^"]+)"', html).group(1).replace("&amp;", "&")
    assert sms.startswith("sms:0912345678?body=")
    body = unquote(parse_qs(urlsplit(sms).query)["body"][0])
    assert body.isascii() and "Tram y te Phuong Dong Xoai" in body  # no diacritics: GSM SMS, 160 chars a part
    link = re.search(r"(http://localhost/q#[A-Za-z0-9_-]+)", body).group(1)
    assert f'data-share-url="{link}"' in html and "data-kd-share" in html  # the share sheet, same link
    assert "<svg" in html and 'class="qr"' in html  # the QR to scan on the officer's screen
    assert "Trạm y tế Phường Đồng Xoài: mở đường dẫn này mỗi ngày" in html  # the shared text keeps its diacritics

    [event] = handovers()
    assert event.object_id == code and event.username == "xa1" and event.area_code == "25210"

    # The returnee opens it: their plan and today's task, though the token's passage window is over.
    token = link.split("#", 1)[1]
    auth.logout()
    status = client.post("/q/trang-thai", data={"token": token}, headers=HX).get_data(as_text=True)
    assert "Đặng Văn Lộc" in status and "Việc cần làm hôm nay" in status and "Gửi khai báo hôm nay" in status


def test_the_link_ends_with_the_monitoring_plus_grace(app, client, auth, users):
    arrival = imported()
    auth.login("xa1")
    html = hand_over(client, arrival.declaration.code).get_data(as_text=True)
    token = re.search(r'data-share-url="http://localhost/q#([A-Za-z0-9_-]+)"', html).group(1)
    arrival.status, arrival.ended_at = "completed", clock.utcnow() - timedelta(days=20)
    arrival.plan_start, arrival.plan_end = clock.today() - timedelta(days=27), clock.today() - timedelta(days=20)
    db.session.commit()
    status = client.post("/q/trang-thai", data={"token": token}, headers=HX).get_data(as_text=True)
    assert "Đã kết thúc theo dõi" in status and "Đặng Văn Lộc" not in status


def test_no_hand_over_outside_the_commune_or_after_the_follow_up(app, client, auth, users):
    elsewhere = imported(commune_code="25432")
    UserFactory(username="xa2", role="commune", area_codes=["25432"])
    ended = imported(status="completed")
    auth.login("xa1")
    assert hand_over(client, elsewhere.declaration.code).status_code == 404  # as for an unknown code
    response = hand_over(client, ended.declaration.code)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Việc theo dõi người này đã kết thúc." in html and "/q#" not in html and "sms:" not in html
    assert handovers() == []


def test_a_person_without_a_phone_gets_the_qr_and_share_only(app, client, auth, users):
    arrival = imported()
    arrival.declaration.phone = ""
    db.session.commit()
    auth.login("xa1")
    html = hand_over(client, arrival.declaration.code, htmx=False).get_data(as_text=True)
    assert "sms:" not in html and "<svg" in html and "data-kd-share" in html
    assert "<!doctype html>" in html.lower()  # without htmx: a page of its own
