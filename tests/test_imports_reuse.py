"""The commit reuses the dry run's reading of the rows only while nothing that reading depends on has
changed: each test changes one thing between the dry run and the commit, and the commit must write
what the new state says, as if it had read every row again."""
from datetime import timedelta

from sqlalchemy import select

from kiemdich import clock
from kiemdich.clock import LOCAL
from kiemdich.extensions import db
from kiemdich.imports import analysis, operations
from kiemdich.models import AdminUnit, Arrival, Declaration, ImportAnalysis, ImportBatch, Passage
from tests.conftest import csrf_token
from tests.factories import CheckpointFactory
from tests.factories_imports import xlsx
from tests.test_imports import checkpoint, dry, imported, load, person, rows_of, supervisor  # noqa: F401 (fixtures)
from tests.test_imports_lists import count


def commit(batch, user) -> ImportBatch:
    operations.commit(batch, user)
    db.session.commit()
    return batch


def test_a_checkpoint_created_after_the_dry_run_is_found_by_the_commit(supervisor, checkpoint):
    batch = dry(xlsx([person(1, checkpoint="Chốt Cầu Mới"), person(2)]), supervisor, checkpoint)
    assert batch.counts["invalid"] == 1 and rows_of(batch, "invalid")[0].errors == ["unknown_checkpoint"]
    new = CheckpointFactory(commune_code="25210", name="Chốt Cầu Mới")
    db.session.commit()
    commit(batch, supervisor)
    assert batch.counts["new"] == 2 and batch.counts["invalid"] == 0
    assert sorted(db.session.scalars(select(Passage.checkpoint_id))) == sorted([checkpoint.id, new.id])


def test_a_name_mapped_to_another_checkpoint_after_the_dry_run(supervisor, checkpoint):
    other = CheckpointFactory(commune_code="25210", name="Chốt Cầu Số 2")
    db.session.commit()
    batch = load(xlsx([person(1, checkpoint="Chốt Ngã Ba")]), supervisor, None)
    operations.map_checkpoints(batch, {"Chốt Ngã Ba": checkpoint.id})
    operations.dry_run(batch, supervisor)
    db.session.commit()
    assert batch.counts["new"] == 1
    operations.map_checkpoints(batch, {"Chốt Ngã Ba": other.id})
    db.session.commit()
    commit(batch, supervisor)
    assert db.session.scalar(select(Passage.checkpoint_id)) == other.id


def test_the_batch_checkpoint_changed_after_the_dry_run(supervisor, checkpoint):
    other = CheckpointFactory(commune_code="25210", name="Chốt Cầu Số 2")
    db.session.commit()
    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    batch.checkpoint_id = other.id
    db.session.commit()
    commit(batch, supervisor)
    assert db.session.scalar(select(Passage.checkpoint_id)) == other.id


def test_a_commune_renamed_after_the_dry_run_sends_the_row_to_triage(supervisor, checkpoint):
    batch = dry(xlsx([person(1, dest="Xã Nghĩa Trung, Đồng Nai")]), supervisor, checkpoint)
    assert batch.counts["new"] == 1
    unit = db.session.get(AdminUnit, "25417")
    name, search_name = unit.name, unit.search_name
    unit.name, unit.search_name = "Xã Khác Hẳn", "xa khac han"
    db.session.commit()
    try:
        commit(batch, supervisor)
        assert batch.counts["new"] == 0 and batch.counts["triage"] == 1
        assert count(Arrival) == 0 and rows_of(batch)[0].status == "triage"
    finally:
        unit = db.session.get(AdminUnit, "25417")
        unit.name, unit.search_name = name, search_name
        db.session.commit()


def test_a_row_in_the_future_at_the_dry_run_is_read_again_at_the_commit(supervisor, checkpoint, monkeypatch):
    soon = (clock.utcnow() + timedelta(days=1, hours=2)).astimezone(LOCAL)
    batch = dry(xlsx([person(1), person(2, when=soon.strftime("%d/%m/%Y %H:%M"))]), supervisor, checkpoint)
    assert rows_of(batch, "invalid")[0].errors == ["future_time"]
    later = clock.utcnow() + timedelta(hours=3)  # the commit, three hours later: no longer in the future
    monkeypatch.setattr(operations, "utcnow", lambda: later)
    commit(batch, supervisor)
    assert batch.counts["new"] == 2 and batch.counts["invalid"] == 0
    assert count(Declaration) == 2


def test_a_passage_recorded_after_the_dry_run_makes_the_row_a_duplicate(supervisor, checkpoint):
    batch = dry(xlsx([person(1), person(2)]), supervisor, checkpoint)
    assert batch.counts["new"] == 2
    imported(xlsx([person(2)]), supervisor, checkpoint)  # the same passage, written meanwhile
    commit(batch, supervisor)
    assert batch.counts["new"] == 1 and batch.counts["duplicate"] == 1
    assert rows_of(batch, "duplicate")[0].errors == ["duplicate_db"]
    assert count(Passage) == 2


def test_the_kept_reading_is_deleted_by_the_commit_a_new_dry_run_and_retention(supervisor, checkpoint):
    """It copies the rows' personal data: it lives no longer than the dry run needs it."""
    from kiemdich.privacy.operations import retention

    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    assert count(ImportAnalysis) == 1
    operations.dry_run(batch, supervisor)  # again: replaced, not added
    db.session.commit()
    assert count(ImportAnalysis) == 1
    commit(batch, supervisor)
    assert count(ImportAnalysis) == 0
    dry(xlsx([person(2)]), supervisor, checkpoint)  # never committed
    retention(5, now=clock.utcnow() + timedelta(days=60))
    db.session.commit()
    assert count(ImportAnalysis) == 0


def test_cancel_deletes_the_kept_reading(client, auth, supervisor, checkpoint):
    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    auth.login("super1")
    response = client.post(f"/nhap/{batch.id}/huy", data={"csrf_token": csrf_token(client, f"/nhap/{batch.id}")})
    assert response.status_code == 302
    assert count(ImportAnalysis) == 0


def test_the_reading_survives_its_storage_unchanged(supervisor, checkpoint):
    """Every kind of row (good, transit, triage, invalid, with a birth date or none, its own checkpoint)
    decodes to exactly what parse_row returned."""
    rows = [person(1), person(2, dest="Hà Nội"), person(3, dest="Ấp 3, gần chợ"), person(4, name=""),
            person(5, checkpoint=checkpoint.name), person(6, when="hôm qua"), person(7, id_number="******000007")]
    rows[1][2] = "12/03/1990"  # a birth date, not a year
    rows[6][2] = None
    batch = load(xlsx(rows), supervisor, checkpoint)
    ctx = operations.build_context(batch, supervisor)
    columns = operations._columns(batch)
    parsed = [operations.parse_row(r.id, r.row_number, r.data, columns, ctx) for r in rows_of(batch)]
    assert {p.status for p in parsed} == {"new", "triage", "invalid"}
    assert any(p.record.get("birth_date") for p in parsed)
    assert analysis.decode(analysis.encode(parsed), operations.Parsed) == parsed
