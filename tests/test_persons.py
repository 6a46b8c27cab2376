"""Issue 16 item 2: one person, one follow-up. A second declaration of the same person (same ID
number, or same name + birth year + phone) while they are followed is linked to them: one arrival,
one row in the commune's lists, both trips on the officer's page; data-subject requests find every
declaration of the person; the migration links the declarations already stored."""
import importlib.util
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from kiemdich import clock
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import Arrival, ArrivalTrip, Declaration, Person
from kiemdich.privacy import operations as privacy
from kiemdich.scan import operations as scan
from tests.conftest import csrf_token
from tests.factories import DeclarationFactory

HX = {"HX-Request": "true"}


def values(**overrides) -> dict:
    data = {"full_name": "Lê Văn Tám", "id_type": "cccd", "id_number": "079080001234", "birth_year": 1980,
            "birth_date": None, "sex": "nam", "phone": "0987654321", "nationality": "Việt Nam",
            "contact_commune_code": "25210", "contact_street": "Ấp 4", "origin_province_code": "79",
            "origin_commune_code": "26743", "origin_street": "", "dest_commune_code": "25210",
            "dest_street": "Ấp 4", "travel_date": clock.today(), "vehicle_type": "xe_dap", "vehicle_plate": "",
            "vehicle_seat": "", "places_visited": "", "symptoms": [], "exposure_case": False,
            "exposure_market": False, "exposure_care": False, "vaccine_doses": 2,
            "last_dose_date": clock.today() - timedelta(days=60), "recovered_date": None, "test_kind": "",
            "test_date": None, "on_behalf": False, "on_behalf_by": "", "consent_version": "2026-01"}
    return data | overrides


def declare(**overrides) -> Declaration:
    decl, created = declarations.create_declaration(values(**overrides))
    assert created
    db.session.commit()
    return decl


def through_checkpoint(user, decl: Declaration):
    """The real passage write at chot1's checkpoint, which routes the arrival."""
    scan.record_passage(user=user, checkpoint=user.checkpoints[0].checkpoint, decl=decl,
                        values=scan.PassageInput("allow"), client_uuid=str(uuid.uuid4()))
    db.session.commit()


def arrivals() -> list[Arrival]:
    db.session.expire_all()
    return list(db.session.scalars(select(Arrival).order_by(Arrival.id)))


def expected_list(client) -> str:
    return client.get("/xa/ds/expected/dong", headers=HX).get_data(as_text=True)


def test_the_same_id_number_twice_during_monitoring_is_one_person_in_one_row(client, auth, users):
    first = declare()
    through_checkpoint(users["checkpoint"], first)
    # A week later the same CCCD declares again, another phone, another spelling of the name.
    second = declare(full_name="LÊ VĂN TÁM", phone="0911222333", travel_date=clock.today())
    through_checkpoint(users["checkpoint"], second)

    assert first.person_id is not None and second.person_id == first.person_id
    (arrival,) = arrivals()  # one follow-up, not two
    assert arrival.declaration_id == first.id and arrival.trip_count == 2
    assert [t.declaration_id for t in db.session.scalars(select(ArrivalTrip))] == [second.id]

    auth.login("xa1")
    rows = expected_list(client)
    assert rows.count("Lê Văn Tám") == 1 and "LÊ VĂN TÁM" not in rows and "2 chuyến" in rows
    detail = client.get(f"/xa/nguoi-den/{first.code}").get_data(as_text=True)
    assert "2 chuyến đi của người này" in detail
    assert first.code in detail and second.code in detail
    assert "Chuyến đi mới của cùng người đã được gộp" in detail  # in the history
    # The second QR's status link, arrival confirmation and daily checks reach the same follow-up.
    from kiemdich.followup.views import latest_arrival
    assert latest_arrival(second).id == arrival.id


def test_the_same_name_birth_year_and_phone_is_the_same_person(app, users):
    first = declare(full_name="Nguyễn Thị Hoà", id_number="079190000001", phone="0901234567", birth_year=1990)
    through_checkpoint(users["checkpoint"], first)
    # Another ID number (an old CMND), the name without diacritics and in capitals.
    second = declare(full_name="NGUYEN THI HOA", id_type="cmnd", id_number="271000001", phone="0901234567",
                     birth_year=1990)
    through_checkpoint(users["checkpoint"], second)
    assert second.person_id == first.person_id
    (arrival,) = arrivals()
    assert arrival.trip_count == 2


def test_another_person_with_the_same_name_is_another_row(client, auth, users):
    first = declare(full_name="Trần Văn Hùng", id_number="079085000001", phone="0901000001", birth_year=1985)
    other = declare(full_name="Trần Văn Hùng", id_number="079092000002", phone="0902000002", birth_year=1992)
    through_checkpoint(users["checkpoint"], first)
    through_checkpoint(users["checkpoint"], other)
    assert first.person_id != other.person_id
    assert len(arrivals()) == 2
    auth.login("xa1")
    assert expected_list(client).count("Trần Văn Hùng") == 2


def test_after_monitoring_ended_a_new_trip_is_a_new_arrival_and_the_history_is_kept(client, auth, users):
    first = declare()
    through_checkpoint(users["checkpoint"], first)
    (old,) = arrivals()
    old.status, old.ended_at = "completed", clock.utcnow()
    db.session.commit()
    second = declare(travel_date=clock.today())
    through_checkpoint(users["checkpoint"], second)
    old, new = arrivals()
    assert (old.status, new.status, new.declaration_id, new.trip_count) == ("completed", "expected", second.id, 1)
    auth.login("xa1")
    detail = client.get(f"/xa/nguoi-den/{second.code}").get_data(as_text=True)
    assert "2 chuyến đi của người này" in detail and first.code in detail  # the earlier trip, for history


def test_symptoms_declared_for_the_second_trip_make_the_followed_person_red(app, users):
    first = declare()
    through_checkpoint(users["checkpoint"], first)
    second = declare(symptoms=["sot"])
    through_checkpoint(users["checkpoint"], second)
    (arrival,) = arrivals()
    assert arrival.flagged


def test_a_data_subject_request_finds_every_declaration_of_the_person(client, auth, users):
    first = declare(full_name="Phạm Thu Trang", id_number="079195000111", phone="0933000111", birth_year=1995)
    through_checkpoint(users["checkpoint"], first)
    # Declared again with a passport number: the same person by name, birth year and phone.
    second = declare(full_name="Pham Thu Trang", id_type="passport", id_number="C1234567", phone="0933000111",
                     birth_year=1995)
    declare(full_name="Phạm Thu Trang", id_number="079199000999", phone="0944000999", birth_year=1999)
    found = privacy.find_person(id_number="079195000111")
    assert {d.code for d in found} == {first.code, second.code}

    auth.login("admin1")
    token = csrf_token(client, "/quan-tri/yeu-cau-du-lieu")
    html = client.post("/quan-tri/yeu-cau-du-lieu", data={"csrf_token": token, "id_number": "C1234567"}
                       ).get_data(as_text=True)
    assert "Tìm thấy 2 hồ sơ" in html
    # Erasing the later trip is refused while the person's follow-up (where it is linked) runs.
    through_checkpoint(users["checkpoint"], second)
    with pytest.raises(privacy.PrivacyError):
        privacy.erase([second], "Yêu cầu của người dân", users["admin"])


def test_an_imported_list_links_rows_of_people_already_followed_or_listed_twice(app, users):
    from tests.test_imports import imported, person, xlsx

    first = declare()
    through_checkpoint(users["checkpoint"], first)
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint
    rows = [person(1, name="Lê Văn Tám", id_number="079080001234", phone="0987654321"),  # followed already
            person(2), person(2, when=clock.today().strftime("%d/%m/%Y 11:00")),  # twice in the list
            person(3)]
    batch = imported(xlsx(rows), users["supervisor"], checkpoint)
    assert batch.counts["new"] == 4
    followed, twice, once = arrivals()
    assert (followed.declaration_id, followed.trip_count) == (first.id, 2)
    assert (twice.trip_count, once.trip_count) == (2, 1)
    # The list's destination (Xã Nghĩa Trung) is not where the person is followed: said on the page.
    trip = db.session.scalar(select(ArrivalTrip).where(ArrivalTrip.arrival_id == followed.id))
    assert trip.commune_code == "25417" and followed.commune_code == "25210"
    assert db.session.scalar(select(func.count()).select_from(Person)) == 3
    assert db.session.scalar(select(func.count()).select_from(Declaration).where(Declaration.person_id.is_(None))) == 0


def test_erasing_every_declaration_of_a_person_blanks_the_persons_keys(app, users):
    first = declare()
    second = declare(phone="0911222333")
    privacy.erase([first], "Yêu cầu của người dân", users["admin"])
    db.session.expire_all()
    assert db.session.get(Person, first.person_id).id_number == "079080001234"  # the later trip still names them
    privacy.erase([db.session.get(Declaration, second.id)], "Yêu cầu của người dân", users["admin"])
    db.session.expire_all()
    person = db.session.get(Person, first.person_id)
    assert (person.id_number, person.name_folded, person.phone) == ("", "", "")


def _migration():
    path = Path(__file__).parent.parent / "migrations" / "versions" / "h14_person.py"
    spec = importlib.util.spec_from_file_location("h14_person", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_links_the_declarations_already_stored(app):
    a1 = DeclarationFactory(full_name="Đỗ Văn Một", id_number="079001000001", phone="0901000001", birth_year=1960)
    a2 = DeclarationFactory(full_name="Do Van Mot", id_number="079001000001", phone="0909999999", birth_year=1960)
    a3 = DeclarationFactory(full_name="ĐỖ VĂN MỘT", id_number="271111111", phone="0909999999", birth_year=1960)
    b = DeclarationFactory(full_name="Đỗ Văn Một", id_number="079002000002", phone="0902000002", birth_year=1972)
    gone = DeclarationFactory(full_name="", search_name="", id_number="", phone="", deidentified_at=clock.utcnow())
    db.session.commit()
    assert _migration().link_existing(db.session.connection()) == 2
    db.session.commit()
    db.session.expire_all()
    ids = {d.id: d.person_id for d in db.session.scalars(select(Declaration))}
    assert ids[a1.id] == ids[a2.id] == ids[a3.id] is not None
    assert ids[b.id] not in (None, ids[a1.id]) and ids[gone.id] is None


# PostgreSQL: two declarations of the same person at the same moment --------------------------------

def _in_threads(app, work, n=2):
    """Run `work` n times at once, each in its own transaction; returns results or errors."""
    out, barrier = [], threading.Barrier(n)

    def run():
        with app.app_context():
            try:
                barrier.wait(10)
                out.append(work())
                db.session.commit()
            except Exception as err:  # noqa: BLE001  (asserted by the caller)
                db.session.rollback()
                out.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_two_simultaneous_first_declarations_make_one_person(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two writers at the same moment: PostgreSQL only")
    out = _in_threads(app, lambda: declarations.create_declaration(values())[0].person_id, n=4)
    assert not [e for e in out if isinstance(e, Exception)], out
    assert len(set(out)) == 1
    assert db.session.scalar(select(func.count()).select_from(Person)) == 1


def test_two_simultaneous_passages_of_the_same_person_route_one_arrival(app, users):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two writers at the same moment: PostgreSQL only")
    ids = [declare().id, declare(phone="0911222333").id]
    user_id, queue = users["checkpoint"].id, list(ids)
    lock = threading.Lock()

    def passage():
        from kiemdich.models import User

        with lock:
            decl_id = queue.pop()
        user = db.session.get(User, user_id)
        return scan.record_passage(user=user, checkpoint=user.checkpoints[0].checkpoint,
                                   decl=db.session.get(Declaration, decl_id), values=scan.PassageInput("allow"),
                                   client_uuid=str(uuid.uuid4()))[1]

    out = _in_threads(app, passage)
    assert out == ["created", "created"], out
    (arrival,) = arrivals()
    assert arrival.trip_count == 2


def _generic_plans(work) -> list[str]:
    """The plans PostgreSQL uses for `work`'s SELECTs on person once psycopg has prepared them (after
    5 runs a prepared statement may switch to a generic plan, planned without the parameters' values):
    each statement prepared again and explained with plan_cache_mode = force_generic_plan."""
    import re

    from psycopg import sql
    from sqlalchemy import event

    sent = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bFROM person\b", statement) and statement.lstrip().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    plans = []
    raw = db.session.connection().connection.driver_connection
    for n, (statement, parameters) in enumerate(sent):
        names = re.findall(r"%\((\w+)\)s", statement)
        numbered = statement
        for i, name in enumerate(dict.fromkeys(names), 1):
            numbered = numbered.replace(f"%({name})s", f"${i}")
        args = sql.SQL(", ").join(sql.Literal(parameters[name]) for name in dict.fromkeys(names))
        with raw.cursor() as cur:
            cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cur.execute(sql.SQL("PREPARE kd_plan_{} AS {}").format(sql.SQL(str(n)), sql.SQL(numbered)))
            cur.execute(sql.SQL("EXPLAIN EXECUTE kd_plan_{} ({})").format(sql.SQL(str(n)), args))
            plans.append("\n".join(r[0] for r in cur.fetchall()))
            cur.execute(sql.SQL("DEALLOCATE kd_plan_{}").format(sql.SQL(str(n))))
    return plans


def test_finding_persons_uses_their_indexes_even_in_a_prepared_statements_generic_plan(app):
    """A 100,000-row import spent 4-6 s per 2,000-row chunk (and every declaration a scan of the
    table) looking persons up: the unique indexes are partial (id_number <> ''), and a generic plan,
    which cannot see that a parameter is not '', scanned every person instead."""
    from kiemdich import persons

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (prepared statements' generic plans)")
    db.session.execute(Person.__table__.insert(), [
        {"id_number": f"0790800{n:05d}", "name_folded": f"nguoi {n}", "birth_year": 1980, "phone": f"09{n:08d}"}
        for n in range(3000)])
    db.session.execute(text("ANALYZE person"))
    keys = {n: {"id_number": f"0790800{n:05d}", "name_folded": f"nguoi {n}", "birth_year": 1980,
                "phone": f"09{n:08d}"} for n in range(0, 3000, 7)}

    plans = _generic_plans(lambda: (persons.link_keys(keys), persons.find(keys[7])))
    assert len(plans) >= 3, plans
    for plan in plans:
        assert "Seq Scan on person" not in plan, plan
