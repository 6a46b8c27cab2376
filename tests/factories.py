"""factory_boy factories, one per model, writing through the app's session."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from kiemdich import models
from kiemdich.accounts.passwords import hash_password
from kiemdich.clock import utcnow
from kiemdich.codes import new_code
from kiemdich.extensions import db
from kiemdich.text import fold

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class CheckpointFactory(Base):
    class Meta:
        model = models.Checkpoint

    code = factory.LazyFunction(new_code)
    name = factory.Sequence(lambda n: f"Chốt số {n}")
    commune_code = "25432"
    road = "Quốc lộ 13"


class UserFactory(Base):
    class Meta:
        model = models.User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = _HASH
    role = "commune"
    full_name = "Nguyễn Văn An"

    @factory.post_generation
    def area_codes(self, create, extracted, **kwargs):
        for code in extracted or ([] if self.role in ("admin", "checkpoint") else ["25210"]):
            self.areas.append(models.UserArea(area_code=code))

    @factory.post_generation
    def checkpoint_ids(self, create, extracted, **kwargs):
        for cid in extracted or []:
            self.checkpoints.append(models.UserCheckpoint(checkpoint_id=cid))
        db.session.flush()


class DeclarationFactory(Base):
    class Meta:
        model = models.Declaration

    code = factory.LazyFunction(new_code)
    token_id = factory.LazyFunction(lambda: uuid.uuid4().hex[:16])
    full_name = "Trần Thị Bích Ngọc"
    search_name = factory.LazyAttribute(lambda o: fold(o.full_name))
    id_type = "cccd"
    id_number = factory.Sequence(lambda n: f"0{n:011d}")
    birth_year = 1990
    sex = "nu"
    phone = "0912345678"
    origin_province_code = "79"
    origin_commune_code = "26506"
    dest_commune_code = "25210"
    dest_street = "Tổ 3, khu phố Tân Bình"
    travel_date = factory.LazyFunction(lambda: date.today())
    vehicle_type = "xe_may"
    vehicle_plate = "93F1-12345"
    symptoms = factory.LazyFunction(list)
    vaccine_doses = 2
    last_dose_date = factory.LazyFunction(lambda: date.today() - timedelta(days=60))
    consent_version = "2026-01"
    valid_until = factory.LazyFunction(lambda: utcnow() + timedelta(hours=72))


class PassageFactory(Base):
    class Meta:
        model = models.Passage

    declaration = factory.SubFactory(DeclarationFactory)
    checkpoint = factory.SubFactory(CheckpointFactory)
    decision = "allow"
    papers_checked = True
    instruction_code = 5
    client_uuid = factory.LazyFunction(lambda: str(uuid.uuid4()))


class ArrivalFactory(Base):
    class Meta:
        model = models.Arrival

    declaration = factory.SubFactory(DeclarationFactory)
    commune_code = "25210"
    status = "monitoring"
    measure = "self_monitoring"
    plan_start = factory.LazyFunction(date.today)
    plan_end = factory.LazyFunction(lambda: date.today() + timedelta(days=6))
    test_days = factory.LazyFunction(lambda: [1])


class ArrivalEventFactory(Base):
    class Meta:
        model = models.ArrivalEvent

    arrival = factory.SubFactory(ArrivalFactory)
    action = "routed"
    to_status = "expected"


class HealthCheckFactory(Base):
    class Meta:
        model = models.HealthCheck

    arrival = factory.SubFactory(ArrivalFactory)
    check_date = factory.LazyFunction(date.today)
    temperature = Decimal("36.8")
    symptoms = factory.LazyFunction(list)
    spo2 = 98
    present = True
    source = "visit"
    client_uuid = factory.LazyFunction(lambda: str(uuid.uuid4()))


class AreaLevelFactory(Base):
    class Meta:
        model = models.AreaLevel

    area_code = "79"
    level = 4
    effective_from = factory.LazyFunction(lambda: date.today() - timedelta(days=30))


class MonitoringRuleFactory(Base):
    class Meta:
        model = models.MonitoringRule

    version = 2
    effective_from = factory.LazyFunction(date.today)
    origin_level = 4
    vaccination = "partial"
    measure = "home_quarantine"
    days = 7
    self_monitoring_days_after = 7
    test_days = factory.LazyFunction(lambda: [1, 7])
    instruction_code = 7


class ImportProfileFactory(Base):
    class Meta:
        model = models.ImportProfile

    name = factory.Sequence(lambda n: f"PC-Covid {n}")
    mapping = factory.LazyFunction(lambda: {"Họ và tên": "full_name"})


class ImportBatchFactory(Base):
    class Meta:
        model = models.ImportBatch

    filename = "danh-sach.xlsx"
    file_hash = factory.Sequence(lambda n: f"{n:064x}")


class ImportRowFactory(Base):
    class Meta:
        model = models.ImportRow

    batch = factory.SubFactory(ImportBatchFactory)
    row_number = factory.Sequence(lambda n: n + 2)
    data = factory.LazyFunction(lambda: {"Họ và tên": "Lê Văn Tám", "SĐT": "0987654321"})


class AuditEventFactory(Base):
    class Meta:
        model = models.AuditEvent

    action = "export"
    object_type = "Passage"


class SettingFactory(Base):
    class Meta:
        model = models.Setting

    key = factory.Sequence(lambda n: f"key{n}")
    value = "1900 9095"


class PrivacyNoticeFactory(Base):
    class Meta:
        model = models.PrivacyNotice

    version = factory.Sequence(lambda n: f"test-{n}")
    text = "Thông báo xử lý dữ liệu cá nhân."


class RetiredCheckpointCodeFactory(Base):
    class Meta:
        model = models.RetiredCheckpointCode

    code = factory.LazyFunction(new_code)
    checkpoint = factory.SubFactory(CheckpointFactory)
