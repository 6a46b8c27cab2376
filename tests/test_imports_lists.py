"""Imports of lists as the national app and offices make them: identity without a birth year,
duplicates whatever the wizard says, the address below the commune, old lists, retention of triage."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kiemdich import clock
from kiemdich.clock import LOCAL
from kiemdich.extensions import db
from kiemdich.imports import operations
from kiemdich.models import Arrival, ArrivalEvent, Checkpoint, Declaration, ImportRow, Passage
from tests.factories import AreaLevelFactory, CheckpointFactory, DeclarationFactory, PassageFactory
from tests.factories_imports import HEADER, xlsx
from tests.test_imports import RECENT, dry, imported, load, person, rows_of


@pytest.fixture
def supervisor(users):
    return users["supervisor"]


@pytest.fixture
def checkpoint(users):
    return db.session.scalar(select(Checkpoint))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def without(columns: list[str], rows: list[list], header=HEADER):
    """The same list without some columns (a passage list with no "Năm sinh", say)."""
    keep = [i for i, label in enumerate(header) if label not in columns]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


# ---------------------------------------------------------------- item 5: no birth year


def test_a_list_without_birth_year_loses_no_row(supervisor, checkpoint):
    header, rows = without(["Năm sinh"], [person(1), person(2), person(3)])
    batch = imported(xlsx(rows, header=header), supervisor, checkpoint)
    assert batch.counts["new"] == 3 and batch.counts["invalid"] == 0
    assert list(db.session.scalars(select(Declaration.birth_year))) == [None, None, None]
    assert count(Arrival) == 3


def test_identity_is_name_and_phone_when_the_id_is_masked_or_missing(supervisor, checkpoint):
    """The national app shows ID numbers masked: the row is kept, identified by name + phone."""
    rows = [person(1, id_number="******000001"), person(2, id_number="")]
    rows[1][4] = None
    header, rows = without(["Năm sinh"], rows)
    batch = imported(xlsx(rows, header=header), supervisor, checkpoint)
    assert batch.counts["new"] == 2
    assert set(db.session.scalars(select(Declaration.id_number))) == {""}
    # The same people at the same minute, now with a birth year: duplicates by name + phone.
    again = dry(xlsx([person(1, id_number="******000001"), person(2)]), supervisor, checkpoint)
    assert again.counts["duplicate"] == 2


def test_only_what_routing_needs_is_required(supervisor, checkpoint):
    """Name, a time, a phone or ID number: no sex, nationality, vehicle, origin or instruction needed."""
    header = ["Họ và tên", "Số điện thoại", "Thời gian qua chốt", "Nơi đến"]
    rows = [["Lê Văn Tám", "0912000111", RECENT, "Xã Nghĩa Trung, Đồng Nai"]]
    batch = imported(xlsx(rows, header=header), supervisor, checkpoint)
    assert batch.counts["new"] == 1
    assert db.session.scalar(select(Arrival.commune_code)) == "25417"


# ---------------------------------------------------------------- item 6: duplicates


def test_reimport_with_another_checkpoint_chosen_is_all_duplicates(supervisor, checkpoint):
    other = CheckpointFactory(commune_code="25210", name="Chốt Cầu Số 2")
    db.session.commit()
    data = xlsx([person(1), person(2), person(3)])
    imported(data, supervisor, checkpoint)
    again = imported(data, supervisor, other)
    assert again.counts["duplicate"] == 3 and again.counts["new"] == 0
    assert count(Passage) == 3 and count(Arrival) == 3


def test_a_scan_at_seconds_is_the_same_passage_as_the_list_minute(supervisor, checkpoint):
    day = clock.today()
    scanned = datetime(day.year, day.month, day.day, 8, 30, 27, tzinfo=LOCAL)
    declaration = DeclarationFactory(full_name="Nguyễn Văn An 1", id_number="075000000001", birth_year=1999,
                                     phone="0912000001")
    PassageFactory(declaration=declaration, checkpoint=checkpoint, client_ts=scanned, server_ts=scanned)
    db.session.commit()
    batch = imported(xlsx([person(1, checkpoint=checkpoint.name)]), supervisor, None)
    assert batch.counts["duplicate"] == 1
    assert count(Passage) == 1
    # The national list of the same scan: no ID column, its own idea of the birth year; same person.
    header, rows = without(["Số CCCD/CMND", "Năm sinh"], [person(1)])
    again = dry(xlsx(rows, header=header), supervisor, checkpoint)
    assert again.counts["duplicate"] == 1 and again.counts["new"] == 0


def test_the_rows_own_checkpoint_keys_the_duplicate(supervisor, checkpoint):
    """Same person, same minute, but the row names another checkpoint: that is another passage."""
    other = CheckpointFactory(commune_code="25210", name="Chốt Cầu Số 2")
    db.session.commit()
    imported(xlsx([person(1, checkpoint=checkpoint.name)]), supervisor, None)
    batch = dry(xlsx([person(1, checkpoint=other.name), person(1, checkpoint=checkpoint.name)]), supervisor, None)
    assert [r.status for r in rows_of(batch)] == ["new", "duplicate"]


# ---------------------------------------------------------------- item 8: the street


@pytest.mark.parametrize("dest,street", [
    ("Thôn 3, Phường Tân Phú, TP Đồng Xoài, Bình Phước", "Thôn 3"),
    ("Tổ 3, ấp 2, xã Đức Liễu, huyện Bù Đăng, tỉnh Bình Phước", "Tổ 3, ấp 2"),
    ("Số 12 đường Lê Lợi, Xã Nghĩa Trung, Đồng Nai", "Số 12 đường Lê Lợi"),
    ("Xã Nghĩa Trung, Đồng Nai", ""),
])
def test_the_address_below_the_commune_is_kept(supervisor, checkpoint, dest, street):
    batch = imported(xlsx([person(1, dest=dest)]), supervisor, checkpoint)
    declaration = db.session.scalar(select(Declaration))
    assert declaration.dest_commune_code is not None
    assert declaration.dest_street == street
    (row,) = rows_of(batch)
    assert row.status == "imported" and row.data["Nơi đến (xã, tỉnh)"] == dest  # the staged row is not wiped


# ---------------------------------------------------------------- item 11: retention


def test_retention_leaves_rows_pending_in_triage_alone(app, supervisor, checkpoint):
    from kiemdich.privacy.operations import retention

    batch = imported(xlsx([person(1, dest="Ấp Sóc Bom Bo, chỗ cây xăng"), person(2)]), supervisor, checkpoint)
    assert batch.counts["triage"] == 1
    retention(5, now=clock.utcnow() + timedelta(days=60))
    db.session.commit()
    ((row, declaration),) = operations.triage_rows(supervisor)
    assert declaration.full_name == "Nguyễn Văn An 1" and declaration.deidentified_at is None
    assert row.data["Họ và tên"] == "Nguyễn Văn An 1"
    # Once routed and finished, the same declaration is old data like any other.
    operations.resolve_triage(row, "25417", user=supervisor)
    db.session.execute(Arrival.__table__.update().values(status="completed", ended_at=clock.utcnow()))
    db.session.commit()
    retention(5, now=clock.utcnow() + timedelta(days=60))
    db.session.commit()
    assert db.session.get(Declaration, declaration.id).deidentified_at is not None


# ---------------------------------------------------------------- item 12: old lists


def _days_ago(n: int) -> str:
    return (clock.today() - timedelta(days=n)).strftime("%d/%m/%Y 08:30")


def test_an_old_list_is_planned_from_the_passage_date(supervisor, checkpoint):
    """Origin at level 4: 14 days of central quarantine from the passage day."""
    from datetime import date

    AreaLevelFactory(area_code="79", level=4, effective_from=date(2021, 1, 1))
    db.session.commit()
    rows = [person(1, when=_days_ago(30)), person(2, when=_days_ago(5)), person(3)]
    batch = dry(xlsx(rows), supervisor, checkpoint)
    assert batch.counts["past"] == 1 and batch.counts["new"] == 3  # the dry run says so
    operations.commit(batch, supervisor)
    db.session.commit()
    arrivals = {a.declaration.full_name: a for a in db.session.scalars(select(Arrival))}
    past, inside, fresh = (arrivals[f"Nguyễn Văn An {n}"] for n in (1, 2, 3))
    assert past.status == "completed" and past.ended_at is not None  # history and figures, no to-do list
    assert past.plan_start == clock.today() - timedelta(days=30)
    events = [(e.action, e.to_status, e.reason) for e in db.session.scalars(
        select(ArrivalEvent).where(ArrivalEvent.arrival_id == past.id).order_by(ArrivalEvent.id))]
    assert events[-1] == ("completed", "completed", operations.PAST_REASON)
    from kiemdich.followup import schedule

    assert inside.status == "expected" and inside.plan_start == clock.today() - timedelta(days=5)
    assert schedule.day_of(inside.plan_start, inside.plan_end, clock.today())[0] == 6  # day 6 of its window
    assert fresh.status == "expected" and fresh.plan_start == clock.today()


def test_the_dry_run_page_says_how_many_were_already_over(client, auth, supervisor, checkpoint):
    batch = dry(xlsx([person(1, when=_days_ago(40)), person(2)]), supervisor, checkpoint)
    auth.login("super1")
    page = client.get(f"/nhap/{batch.id}").get_data(as_text=True)
    assert "đã kết thúc" in page


# ---------------------------------------------------------------- item 9: names changed at the 2025 merger


@pytest.mark.parametrize("dest,code", [
    ("Thị trấn Đức Phong, Huyện Bù Đăng, Tỉnh Bình Phước", "25396"),  # now Xã Bù Đăng
    ("TT Tân Phú, Đồng Phú, Bình Phước", "25363"),  # now Xã Đồng Phú
    ("Thị trấn Thanh Bình, Huyện Bù Đốp, Bình Phước", "25308"),  # now Xã Thiện Hưng
    ("Khu phố 2, thị trấn Lộc Ninh, huyện Lộc Ninh, tỉnh Bình Phước", "25270"),
    ("Thị trấn Đức Phong, Bình Phước", "25396"),  # no district written
    ("Thị trấn Thanh Bình, Tỉnh Bình Phước", "25308"),
    ("TT Dầu Giây, Thống Nhất, Đồng Nai", "26326"),  # not Xã Thống Nhất, the old district's namesake
    ("TT Gia Ray, Xuân Lộc, Đồng Nai", "26425"),  # now Xã Xuân Lộc
])
def test_a_former_town_whose_ward_took_another_name_resolves(supervisor, checkpoint, dest, code):
    batch = imported(xlsx([person(1, dest=dest)]), supervisor, checkpoint)
    assert batch.counts["new"] == 1 and batch.counts["triage"] == 0
    assert db.session.scalar(select(Arrival.commune_code)) == code


def test_a_legacy_answer_inconsistent_with_the_province_is_not_taken(supervisor, checkpoint):
    """A former town named with another province: the library's guess is not accepted."""
    batch = dry(xlsx([person(1, dest="Thị trấn Thanh Bình, Huyện Bù Đốp, Tỉnh Cà Mau")]), supervisor, checkpoint)
    assert batch.counts["new"] + batch.counts["triage"] == 1
    assert db.session.scalar(select(Declaration.dest_commune_code)) is None


def test_triage_suggestions_ranked_by_the_legacy_name(app):
    from kiemdich.imports.addresses import suggestions

    found = suggestions("Thị trấn Thanh Bình, Huyện Bù Đốp, chỗ cây xăng", "75")
    assert found and found[0].code == "25308"  # Thiện Hưng took Thanh Bình town in 2025
