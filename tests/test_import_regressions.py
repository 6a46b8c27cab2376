"""Imports: holes one-line mutations slipped through (issue 15), asserted through the public
operations (upload, dry run, commit) so they hold whatever the row logic looks like inside."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.imports import operations
from kiemdich.models import Arrival, Checkpoint, ImportBatch, ImportRow, Passage
from tests.factories import DeclarationFactory, PassageFactory
from tests.factories_imports import person, xlsx


@pytest.fixture
def supervisor(users):
    return users["supervisor"]


@pytest.fixture
def checkpoint(users):
    return db.session.scalar(select(Checkpoint))


def imported(data: bytes, user, checkpoint) -> ImportBatch:
    table, header = operations.parse_upload(data)
    batch = operations.create_batch("danh-sach.xlsx", data, user=user, checkpoint_id=checkpoint.id)
    operations.store_rows(batch, table, header)
    db.session.commit()
    operations.dry_run(batch, user)
    db.session.commit()
    operations.commit(batch, user)
    db.session.commit()
    return batch


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_passage_scanned_at_08_30_27_is_the_same_as_the_list_row_at_08_30(supervisor, checkpoint):
    """Lists show minutes: the passage scanned at 08:30:27 and the imported row "08:30" are one
    passage, counted as a duplicate and not written twice."""
    row = person(1, when="05/10/2021 08:30")
    decl = DeclarationFactory(full_name=row[1], birth_year=row[2], id_number=row[4], phone=row[5])
    scanned = datetime(2021, 10, 5, 1, 30, 27, tzinfo=timezone.utc)  # 08:30:27 in Việt Nam
    PassageFactory(declaration=decl, checkpoint=checkpoint, server_ts=scanned, client_ts=scanned)
    db.session.commit()
    batch = imported(xlsx([row]), supervisor, checkpoint)
    assert batch.counts["duplicate"] == 1 and batch.counts["new"] == 0
    assert count(Passage) == 1


def test_rows_marked_khong_cho_qua_are_recorded_as_turned_back_and_routed_nowhere(supervisor, checkpoint):
    turned_back = person(1)
    turned_back[-1] = "Không cho qua"
    batch = imported(xlsx([turned_back, person(2)]), supervisor, checkpoint)
    assert batch.status == "committed"
    decisions = sorted(db.session.scalars(select(Passage.decision)).all())
    assert decisions == ["allow", "refuse"]
    refused = db.session.scalar(select(Passage).where(Passage.decision == "refuse"))
    assert count(Arrival, Arrival.declaration_id == refused.declaration_id) == 0  # no commune expects them
    assert count(Arrival) == 1
    assert count(ImportRow, ImportRow.batch_id == batch.id) == 2
