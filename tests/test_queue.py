"""The job queue for real: a huey_consumer process on a SqliteHuey file in tmp runs the imports the
web app enqueues, and survives being killed with -9 in the middle of a read and of a commit."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiemdich import tasks
from kiemdich.extensions import db
from kiemdich.models import Arrival, Checkpoint, Declaration, ImportBatch, ImportJob, ImportRow, Passage
from tests.factories_imports import csv_bytes, person, xlsx
from tests.conftest import csrf_token
from tests.test_imports_views import latest_batch, mapping_form, upload

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / ".venv" / "bin" / "huey_consumer"


class Consumer:
    """`huey_consumer kiemdich.tasks.huey` in a process group of its own, on the test's database."""

    def __init__(self, database_url: str, tmp: Path, lease: int = 3):
        self.env = {**os.environ, "DATABASE_URL": database_url, "KIEMDICH_INSTANCE": str(tmp / "instance"),
                    "KIEMDICH_QUEUE_FILE": str(tmp / "huey.db"), "KIEMDICH_JOB_LEASE_SECONDS": str(lease)}
        self.log = tmp / "consumer.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([str(CONSUMER), "kiemdich.tasks.huey", "-w", "2", "-k", "thread"],
                                     env=self.env, cwd=ROOT, start_new_session=True,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)  # the consumer and its reading child, at once
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def consumer(app, database_url, tmp_path):
    if not CONSUMER.exists():
        pytest.fail("huey_consumer is not installed (pip install -r requirements.txt)")
    tasks.use_sqlite_file(tmp_path / "huey.db")  # the web side enqueues into the consumer's file
    db.engine.dispose()
    worker = Consumer(database_url, tmp_path).start()
    yield worker
    worker.stop()
    tasks.huey.immediate = True  # back to immediate mode for the unit tests


@pytest.fixture
def supervisor(client, auth, users):
    auth.login("super1")
    return users["supervisor"]


def wait_for(predicate, timeout=120, what="", log: Path | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        db.session.rollback()
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{log.read_text()[-3000:]}" if log else ""))


def batch_status():
    return latest_batch().status


def job_row(batch_id):
    return db.session.get(ImportJob, batch_id)


def csrf(client, batch_id):
    return {"csrf_token": csrf_token(client, f"/nhap/{batch_id}")}


def count(model, **where):
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.scalar(stmt)


def test_a_real_consumer_reads_dry_runs_and_writes_an_import(client, supervisor, consumer):
    cp = db.session.scalar(select(Checkpoint))
    response = upload(client, xlsx([person(i) for i in range(1, 6)]), checkpoint=str(cp.id))
    assert response.status_code == 302  # the request only stored the file and queued the read
    batch = wait_for(lambda: latest_batch() if batch_status() == "uploaded" else None, what="read",
                     log=consumer.log)
    assert (batch.total_rows, count(ImportRow, batch_id=batch.id)) == (5, 5)
    client.post(f"/nhap/{batch.id}/cot", data=mapping_form(client, batch, checkpoint=str(cp.id)))
    wait_for(lambda: batch_status() == "analysed", what="dry run", log=consumer.log)
    client.post(f"/nhap/{batch.id}/ghi", data=mapping_form(client, batch))
    wait_for(lambda: batch_status() == "committed", what="commit", log=consumer.log)
    assert count(Arrival) == 5
    assert tasks.consumer_last_seen() is not None  # what /readyz reads


def test_consumer_killed_mid_read_and_mid_commit_ends_complete_exactly_once(client, supervisor, consumer,
                                                                           database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("progress during a write is reported on PostgreSQL (one writer at a time on SQLite)")
    n = 12_000
    cp = db.session.scalar(select(Checkpoint))
    upload(client, csv_bytes([person(i) for i in range(1, n + 1)]), name="lon.csv", checkpoint=str(cp.id))
    batch_id = latest_batch().id

    # Killed in the middle of storing the rows: the read's transaction is rolled back by the server.
    wait_for(lambda: job_row(batch_id) and job_row(batch_id).processed_rows >= 2000, what="read under way",
             log=consumer.log)
    consumer.kill()
    assert batch_status() == "reading"
    consumer.start()  # on start (and again once the dead job's lease ran out) it fails the batch
    batch = wait_for(lambda: latest_batch() if batch_status() == "failed" else None, what="read failed",
                     log=consumer.log)
    assert batch.error == "interrupted:read" and count(ImportRow, batch_id=batch_id) == 0
    page = client.get(f"/nhap/{batch_id}").get_data(as_text=True)
    assert "Công việc đã dừng khi đang đọc tệp" in page and "Tiếp tục" in page

    client.post(f"/nhap/{batch_id}/tiep-tuc", data=csrf(client, batch_id))
    batch = wait_for(lambda: latest_batch() if batch_status() == "uploaded" else None, what="read resumed",
                     log=consumer.log)
    assert batch.total_rows == n and count(ImportRow, batch_id=batch_id) == n

    client.post(f"/nhap/{batch_id}/cot", data=mapping_form(client, batch, checkpoint=str(cp.id)))
    wait_for(lambda: batch_status() == "analysed", what="dry run", log=consumer.log)
    client.post(f"/nhap/{batch_id}/ghi", data=mapping_form(client, batch))

    # Killed while writing declarations, passages and arrivals: nothing of them stays.
    wait_for(lambda: batch_status() == "committing" and job_row(batch_id).processed_rows >= 2000,
             what="commit under way", log=consumer.log)
    consumer.kill()
    consumer.start()
    batch = wait_for(lambda: latest_batch() if batch_status() == "failed" else None, what="commit failed",
                     log=consumer.log)
    assert batch.error == "interrupted:commit"
    assert (count(Declaration), count(Passage), count(Arrival)) == (0, 0, 0)
    assert client.post(f"/nhap/{batch_id}/ghi", data=csrf(client, batch_id)).status_code == 409

    client.post(f"/nhap/{batch_id}/tiep-tuc", data=csrf(client, batch_id))
    wait_for(lambda: batch_status() == "committed", timeout=300, what="commit resumed", log=consumer.log)
    # A second delivery of the same commit (enqueued twice) finds the batch committed: no row twice.
    tasks.import_task(batch_id)
    time.sleep(2)
    assert (count(Declaration), count(Passage), count(Arrival)) == (n, n, n)
    assert db.session.scalar(select(func.count(func.distinct(Declaration.import_row_id)))) == n
    assert count(ImportRow, status="imported") == n


def test_a_batch_whose_consumer_died_can_be_cancelled(client, supervisor, consumer, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("uses the read progress of PostgreSQL to kill mid-read")
    cp = db.session.scalar(select(Checkpoint))
    upload(client, csv_bytes([person(i) for i in range(1, 8001)]), name="lon.csv", checkpoint=str(cp.id))
    batch_id = latest_batch().id
    wait_for(lambda: job_row(batch_id) and job_row(batch_id).processed_rows >= 2000, what="read under way",
             log=consumer.log)
    consumer.kill()
    consumer.start()
    batch = wait_for(lambda: latest_batch() if batch_status() == "failed" else None, what="read failed",
                     log=consumer.log)
    response = client.post(f"/nhap/{batch_id}/huy", data=csrf(client, batch_id))
    assert response.status_code == 302
    assert batch_status() == "cancelled" and count(ImportRow) == 0
    assert job_row(batch_id).file is None  # the upload is not kept once the import is cancelled


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_queue_is_redis_when_redis_url_is_set_else_a_sqlite_file_in_instance(tmp_path, backend):
    code = ("from kiemdich.tasks import huey; import sys; "
            "sys.stdout.write(type(huey).__name__ + ' ' + str(getattr(huey.storage, 'filename', '')))")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KIEMDICH_QUEUE_FILE")}
    env["KIEMDICH_INSTANCE"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out == f"SqliteHuey {tmp_path / 'huey.db'}"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/6"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("RedisHuey")
