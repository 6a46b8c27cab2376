"""Every model round-trips on each backend: insert, read back, follow relationships."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kiemdich.extensions import db
from kiemdich.models import (AdminUnit, Arrival, AuditEvent, Checkpoint, Declaration, HealthCheck,
                             ImportBatch, ImportRow, Instruction, MonitoringRule, Passage, User)
from tests import factories as f


def _reload(obj):
    db.session.commit()
    db.session.expunge_all()
    return db.session.get(type(obj), db.inspect(obj).identity[0] if len(db.inspect(obj).identity) == 1
                          else db.inspect(obj).identity)


FACTORIES = [
    f.CheckpointFactory, f.UserFactory, f.DeclarationFactory, f.PassageFactory, f.ArrivalFactory,
    f.ArrivalEventFactory, f.HealthCheckFactory, f.AreaLevelFactory, f.MonitoringRuleFactory,
    f.ImportProfileFactory, f.ImportBatchFactory, f.ImportRowFactory, f.AuditEventFactory,
    f.SettingFactory, f.PrivacyNoticeFactory, f.RetiredCheckpointCodeFactory,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda fac: fac._meta.model.__name__)
def test_every_model_round_trips(app, factory):
    obj = factory()
    columns = {c.key: getattr(obj, c.key) for c in db.inspect(type(obj)).column_attrs}
    again = _reload(obj)
    assert again is not None
    assert {c: getattr(again, c) for c in columns} == columns


def test_declaration_relationships_and_types(app):
    passage = f.PassageFactory(declaration__full_name="Đặng Thị Ánh Tuyết", declaration__id_number="001234567890")
    arrival = f.ArrivalFactory(declaration=passage.declaration, passage_id=passage.id)
    f.HealthCheckFactory(arrival=arrival, temperature=Decimal("38.1"), symptoms=["sot", "ho"])
    f.ArrivalEventFactory(arrival=arrival)
    db.session.commit()
    db.session.expunge_all()

    decl = db.session.scalar(select(Declaration))
    assert decl.full_name == "Đặng Thị Ánh Tuyết"
    assert decl.search_name == "dang thi anh tuyet"
    assert decl.id_number == "001234567890"  # leading zeros kept: a string, never an int
    assert decl.valid_until.tzinfo is not None  # aware UTC on every engine
    assert decl.dest_commune.name == "Phường Đồng Xoài"
    assert decl.dest_commune.parent.name == "Đồng Nai"
    assert [p.decision for p in decl.passages] == ["allow"]
    assert decl.passages[0].checkpoint.commune.parent_code == "75"
    assert decl.passages[0].instruction.label.startswith("Tự theo dõi sức khỏe 7 ngày")
    arr = decl.arrivals[0]
    assert arr.checks[0].temperature == Decimal("38.1")
    assert arr.checks[0].symptoms == ["sot", "ho"]
    assert arr.events[0].action == "routed"
    assert arr.commune.code == "25210"


def test_user_scope_relationships(app):
    cp = f.CheckpointFactory()
    user = f.UserFactory(role="checkpoint", checkpoint_ids=[cp.id])
    sup = f.UserFactory(role="supervisor", area_codes=["75", "79"])
    db.session.commit()
    ids, code = (user.id, sup.id), cp.code
    db.session.expunge_all()
    assert db.session.get(User, ids[0]).checkpoints[0].checkpoint.code == code
    assert sorted(db.session.get(User, ids[1]).area_codes) == ["75", "79"]


def test_import_batch_rows(app):
    row = f.ImportRowFactory(status="triage", errors=["Không xác định được xã đến"])
    db.session.commit()
    row_id = row.id
    db.session.expunge_all()
    batch = db.session.scalar(select(ImportBatch))
    assert batch.rows[0].data["Họ và tên"] == "Lê Văn Tám"
    assert batch.rows[0].errors == ["Không xác định được xã đến"]
    assert db.session.get(ImportRow, row_id).batch.filename == "danh-sach.xlsx"


def test_passage_client_uuid_is_unique(app):
    first = f.PassageFactory()
    db.session.commit()
    with pytest.raises(IntegrityError):
        f.PassageFactory(client_uuid=first.client_uuid)
        db.session.commit()
    db.session.rollback()


def test_health_check_client_uuid_is_unique(app):
    first = f.HealthCheckFactory()
    db.session.commit()
    with pytest.raises(IntegrityError):
        f.HealthCheckFactory(arrival=first.arrival, client_uuid=first.client_uuid)
        db.session.commit()
    db.session.rollback()


def test_foreign_keys_are_enforced(app):
    with pytest.raises(IntegrityError):
        f.CheckpointFactory(commune_code="99999")
        db.session.commit()
    db.session.rollback()


def test_reference_data_is_seeded(app):
    assert [i.code for i in db.session.scalars(select(Instruction).order_by(Instruction.code))] == list(range(1, 9))
    unvaccinated = db.session.scalar(select(MonitoringRule).where(
        MonitoringRule.origin_level == 4, MonitoringRule.vaccination == "none"))
    assert (unvaccinated.measure, unvaccinated.days, unvaccinated.test_days, unvaccinated.needs_approval) == \
        ("central_quarantine", 14, [1, 7, 14], True)
    assert db.session.scalar(select(db.func.count()).select_from(AdminUnit)) == 34 + 3321


def test_local_dates_survive(app):
    hc = f.HealthCheckFactory(check_date=date(2021, 12, 31))
    assert _reload(hc).check_date == date(2021, 12, 31)
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == 0
    assert db.session.scalar(select(db.func.count()).select_from(Arrival)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(Passage)) == 0
    assert db.session.scalar(select(db.func.count()).select_from(Checkpoint)) == 0
