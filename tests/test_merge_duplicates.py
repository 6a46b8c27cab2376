"""Two follow-ups of the same person made before "one person, one follow-up" (or by two
routings): the commune officer sees one person and merges them in one tap, audited and
idempotent; the later one ends as merged into the first, its checks and history kept.
Another commune's officer cannot merge (403)."""
import re
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalEvent, ArrivalTrip, AuditEvent, HealthCheck, Person
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, DeclarationFactory, HealthCheckFactory, UserFactory

HX = {"HX-Request": "true"}


def duplicate_pair(same_person_row=True, second_flagged=True):
    """The same CCCD followed twice in Phường Đồng Xoài: a week-old arrival and a newer one, each
    with a check (person rows linked, or only the same ID number)."""
    now = clock.utcnow()
    person = Person(id_number="079080009999", name_folded="le van tam", birth_year=1980, phone="0987654321",
                    created_at=now) if same_person_row else None
    if person:
        db.session.add(person)
        db.session.flush()
    older = ArrivalFactory(declaration=DeclarationFactory(full_name="Lê Văn Tám", id_number="079080009999",
                                                          person_id=person.id if person else None),
                           status="monitoring", plan_start=clock.today() - timedelta(days=6),
                           created_at=now - timedelta(days=6), arrived_at=now - timedelta(days=6))
    newer = ArrivalFactory(declaration=DeclarationFactory(full_name="LÊ VĂN TÁM", id_number="079080009999",
                                                          phone="0911222333",
                                                          person_id=person.id if person else None),
                           status="monitoring", flagged=second_flagged, plan_start=clock.today() - timedelta(days=1),
                           created_at=now - timedelta(days=1), arrived_at=now - timedelta(days=1))
    HealthCheckFactory(arrival=older, check_date=clock.today() - timedelta(days=2))
    HealthCheckFactory(arrival=newer, check_date=clock.today() - timedelta(days=1), temperature=38.4,
                       symptoms=["sot"])
    db.session.commit()
    return older, newer


def merge(client, code, other_id, path="/xa"):
    return client.post(f"/xa/nguoi-den/{code}/gop", data={"other": other_id, "csrf_token": csrf_token(client, path)},
                       headers=HX)


def test_the_officer_sees_one_person_and_merges_in_one_tap(client, auth, users):
    older, newer = duplicate_pair()
    auth.login("xa1")
    rows = client.get("/xa/ds/monitoring").get_data(as_text=True)
    assert len(re.findall(r"Lê Văn Tám|LÊ VĂN TÁM", rows)) == 1  # one person, not two rows
    assert "trùng người · cần gộp" in rows

    page = client.get(f"/xa/nguoi-den/{older.declaration.code}").get_data(as_text=True)
    assert "Người này còn đang được theo dõi ở 1 dòng khác" in page and newer.declaration.code in page
    assert "Gộp thành một người" in page
    # From the newer one's page too (the later row folds into the earlier whichever page taps).
    assert "Gộp thành một người" in client.get(f"/xa/nguoi-den/{newer.declaration.code}").get_data(as_text=True)

    response = merge(client, newer.declaration.code, older.id)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert "Đã gộp hai lượt theo dõi của người này thành một." in body
    assert "2 chuyến đi của người này" in body and "Gộp thành một người" not in body
    assert "Các lần kiểm tra của lượt theo dõi đã gộp" in body  # the newer one's check is history here
    assert "Đã gộp lượt theo dõi thứ hai của cùng người vào đây" in body

    db.session.expire_all()
    older, newer = db.session.get(Arrival, older.id), db.session.get(Arrival, newer.id)
    assert (older.status, older.trip_count, older.flagged) == ("monitoring", 2, True)  # red comes along
    assert (newer.status, newer.ended_at is not None) == ("merged", True)
    assert db.session.scalars(select(ArrivalTrip.declaration_id).where(ArrivalTrip.arrival_id == older.id)).all() \
        == [newer.declaration_id]
    assert db.session.scalar(select(func.count()).select_from(HealthCheck)
                             .where(HealthCheck.arrival_id == newer.id)) == 1  # history kept
    assert [e.data["arrival_id"] for e in db.session.scalars(
        select(ArrivalEvent).where(ArrivalEvent.action == "merged_into"))] == [older.id]
    audits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "arrival.merge")).all()
    assert [(a.object_id, a.user_id, a.area_code) for a in audits] == [(str(newer.id), users["commune"].id, "25210")]
    assert audits[0].after["into_arrival_id"] == older.id and audits[0].after["status"] == "merged"

    rows = client.get("/xa/ds/monitoring").get_data(as_text=True)
    assert len(re.findall(r"Lê Văn Tám|LÊ VĂN TÁM", rows)) == 1 and "trùng người" not in rows
    assert "2 chuyến" in rows
    symptomatic = client.get("/xa/ds/symptomatic").get_data(as_text=True)
    assert older.declaration.code in symptomatic and newer.declaration.code not in symptomatic

    # The merged row's code opens the kept follow-up; the returnee's link of the later declaration
    # records their daily check on it (not on the closed one).
    page = client.get(f"/xa/nguoi-den/{newer.declaration.code}").get_data(as_text=True)
    assert "2 chuyến đi của người này" in page and "Đã gộp vào lượt theo dõi khác" not in page
    form = {"token": token_for(newer.declaration), "client_uuid": str(uuid.uuid4()), "temperature": "36,7"}
    assert client.post("/q/suc-khoe", data=form, headers=HX).status_code == 200
    assert db.session.scalar(select(HealthCheck.arrival_id).where(HealthCheck.source == "self")) == older.id

    # A replay (double tap, outbox) changes nothing and says so.
    again = merge(client, newer.declaration.code, older.id)
    assert again.status_code == 200 and "Các lượt theo dõi này đã được gộp trước đó." in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Arrival, older.id).trip_count == 2
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "arrival.merge")) == 1


def test_the_same_id_number_without_a_person_row_is_the_same_person(client, auth, users):
    older, newer = duplicate_pair(same_person_row=False, second_flagged=False)
    auth.login("xa1")
    assert "trùng người · cần gộp" in client.get("/xa/ds/monitoring").get_data(as_text=True)
    assert merge(client, older.declaration.code, newer.id).status_code == 200
    db.session.expire_all()
    assert db.session.get(Arrival, newer.id).status == "merged"
    assert db.session.get(Arrival, older.id).trip_count == 2


def test_different_people_are_not_merged(client, auth, users):
    a = ArrivalFactory(declaration=DeclarationFactory(full_name="Lê Văn Tám"))
    b = ArrivalFactory(declaration=DeclarationFactory(full_name="Lê Văn Tám"))  # other ID number
    db.session.commit()
    auth.login("xa1")
    assert "trùng người" not in client.get("/xa/ds/monitoring").get_data(as_text=True)
    response = merge(client, a.declaration.code, b.id)
    assert response.status_code == 422 and "Đây không phải cùng một người." in response.get_data(as_text=True)
    db.session.expire_all()
    assert {x.status for x in db.session.scalars(select(Arrival))} == {"monitoring"}


def test_another_communes_officer_cannot_merge(client, auth, users):
    older, newer = duplicate_pair()
    other = ArrivalFactory(commune_code="25432", declaration=DeclarationFactory(
        id_number="079080009999", person_id=older.declaration.person_id, dest_commune_code="25432"))
    UserFactory(username="xa2", role="commune", area_codes=["25432"])
    db.session.commit()
    auth.login("xa2")
    # Their own row names the person's arrival in Phường Đồng Xoài: not theirs to merge.
    assert merge(client, other.declaration.code, older.id).status_code == 403
    assert merge(client, older.declaration.code, other.id).status_code == 404  # not in their communes
    db.session.expire_all()
    assert {x.status for x in db.session.scalars(select(Arrival))} == {"monitoring"}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "arrival.merge")) == 0


def test_after_a_merge_the_returnees_status_answer_follows_the_kept_follow_up(client, auth, users):
    """The traveller of the later (merged) trip is still monitored, under the kept follow-up: their
    status answer shows that one's day, not "merged" (which also ended their link after the grace
    days)."""
    older, newer = duplicate_pair()
    token = token_for(newer.declaration)
    auth.login("xa1")
    assert merge(client, newer.declaration.code, older.id).status_code == 200
    html = client.post("/q/trang-thai", data={"token": token}, headers=HX).get_data(as_text=True)
    assert "Theo dõi: ngày 7 / " in html  # the kept follow-up started six days ago
    assert "Đã gộp vào lượt theo dõi khác" not in html
