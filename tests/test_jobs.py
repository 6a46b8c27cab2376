"""Import jobs and periodic tasks through the queue in Huey's immediate mode (unit tests; the real
consumer process is in tests/test_queue.py): recovery of a job whose process died, resume,
idempotent commit, the daily rules and the consumer heartbeat."""
from datetime import timedelta

from sqlalchemy import func, select

from kiemdich import tasks
from kiemdich.clock import utcnow
from kiemdich.extensions import db
from kiemdich.imports import jobs, messages
from kiemdich.models import Arrival, AuditEvent, Declaration, ImportBatch, ImportJob
from tests.factories import ArrivalFactory, DeclarationFactory
from tests.factories_imports import person, xlsx
from tests.test_imports import checkpoint, dry, supervisor  # noqa: F401  (fixtures)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def died_while(batch, job, *, lease_age=120):
    """What a consumer killed with -9 leaves: the batch running, a lease that is no longer renewed."""
    row = db.session.get(ImportJob, batch.id) or ImportJob(batch_id=batch.id, attempts=1)
    row.job, row.user_id, row.lease_until = job, batch.uploaded_by_id, utcnow() - timedelta(seconds=lease_age)
    db.session.add(row)
    batch.status = jobs.RUNNING[job]
    db.session.commit()


def test_a_job_whose_lease_ran_out_is_failed_with_a_message_then_resumed_once(app, supervisor, checkpoint):
    batch = dry(xlsx([person(i) for i in range(1, 6)]), supervisor, checkpoint)
    died_while(batch, "commit")
    assert tasks.recover() == 1
    db.session.expire_all()
    batch = db.session.get(ImportBatch, batch.id)
    assert (batch.status, batch.error) == ("failed", "interrupted:commit")
    with app.test_request_context():
        assert "Công việc đã dừng khi đang ghi dữ liệu" in messages.batch_error(batch.error)
    assert tasks.recover() == 0  # already failed: nothing more to do
    jobs.resume(batch, supervisor.id)  # immediate mode: the commit runs now
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "committed"
    assert count(Declaration) == 5 and count(Arrival) == 5
    # The same commit delivered again (a retry, a double click) writes nothing more.
    tasks.import_task(batch.id)
    db.session.expire_all()
    assert count(Declaration) == 5 and count(Arrival) == 5


def test_a_running_job_with_a_fresh_lease_is_left_alone(app, supervisor, checkpoint):
    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    died_while(batch, "dry_run", lease_age=-60)  # lease still valid: its consumer is alive
    assert tasks.recover() == 0
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "analysing"


def test_a_queued_job_lost_from_the_queue_is_failed_after_a_grace(app, supervisor, checkpoint):
    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    died_while(batch, "dry_run")
    row = db.session.get(ImportJob, batch.id)
    row.lease_until, row.updated_at = None, utcnow()  # just queued: not lost yet
    db.session.commit()
    assert tasks.recover() == 0
    row = db.session.get(ImportJob, batch.id)
    row.updated_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    assert jobs.recover_stale(pending={batch.id}) == 0  # still waiting in the queue
    assert jobs.recover_stale(pending=set()) == 1


def test_resume_is_refused_for_a_batch_that_was_not_interrupted(client, auth, supervisor, checkpoint):
    from tests.conftest import csrf_token

    batch = dry(xlsx([person(1)]), supervisor, checkpoint)
    auth.login("super1")
    response = client.post(f"/nhap/{batch.id}/tiep-tuc", data={"csrf_token": csrf_token(client, "/nhap/")})
    assert response.status_code == 409
    assert db.session.get(ImportBatch, batch.id).status == "analysed"


def test_the_daily_end_rule_runs_as_a_periodic_task(app, users):
    today = utcnow()
    arrival = ArrivalFactory(declaration=DeclarationFactory(), status="monitoring",
                             plan_start=(today - timedelta(days=20)).date(), plan_end=(today - timedelta(days=6)).date(),
                             expected_at=today - timedelta(days=20))
    db.session.commit()
    assert tasks.end_rule_task.call_local() == 1
    db.session.expire_all()
    assert db.session.get(Arrival, arrival.id).status == "ended_unchecked"


def test_retention_task_runs_only_when_the_province_set_a_period(app, users):
    app.config["KIEMDICH_RETENTION_DAYS"] = None
    assert tasks.retention_task.call_local() is None
    app.config["KIEMDICH_RETENTION_DAYS"] = "30"
    assert tasks.retention_task.call_local() == 0
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.run")) is not None


def test_consumer_heartbeat(app):
    tasks.huey.storage.delete_data(tasks.HEARTBEAT_KEY)
    assert tasks.consumer_last_seen() is None
    tasks.every_minute.call_local()
    seen = tasks.consumer_last_seen()
    assert seen is not None and abs((utcnow() - seen).total_seconds()) < 60
