"""Bench: a generated 100,000-row .xlsx imported end to end through the app, as a ratio to a bare
python-calamine read of the same file.

End to end = the path a supervisor takes: upload to gunicorn (the request stores the file and
queues the read), the queue's consumer (huey_consumer) reads it in its memory-limited child and
stores the rows, the columns are posted and the dry run runs, then the write (declarations,
passages, arrivals in one transaction). Timed from the upload until the batch is committed. The
peak memory is the consumer's (its resident set, sampled), and its reading child's apart.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h6 .venv/bin/python bench/import_100k.py

BENCH_FILE=path reuses a file an earlier run generated (2 minutes saved on a loaded machine).
Without BENCH_DATABASE_URL a SQLite file in a temporary folder is used. The database's public
schema is dropped and rebuilt: never point this at a database you care about.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (BIN, ROOT, Client, bench_app, database_url, fresh_database, gunicorn, peak_mb,  # noqa: E402
                    run_step, server_env, stop)

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Số CCCD/CMND", "Số điện thoại", "Nơi đi",
          "Nơi đến (xã, tỉnh)", "Phương tiện", "Biển số", "Thời gian qua chốt", "Chốt", "Hướng xử lý"]
# Destinations as files really have them: today's units, pre-2025 three levels, no diacritics,
# outside the province, and a few that need a person to decide.
DESTINATIONS = [
    "Xã Nghĩa Trung, Đồng Nai", "Phường Đồng Xoài, Tỉnh Đồng Nai", "xa nghia trung, dong nai",
    "Xã Đức Liễu, Huyện Bù Đăng, Tỉnh Bình Phước", "xa duc lieu, huyen bu dang, binh phuoc",
    "Phường Tiến Thành, TP Đồng Xoài, Bình Phước", "P. Tân Phú, TP. Đồng Xoài, Bình Phước",
    "TT Đức Phong, Bù Đăng, Bình Phước", "Xã Tân Hưng, Huyện Đồng Phú, Tỉnh Bình Phước",
    "Xã Tân Hưng, Huyện Hớn Quản, Tỉnh Bình Phước", "Phường 1, Quận 3, TP Hồ Chí Minh", "Hà Nội",
    "Ấp 3, gần chợ",
]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thị Hoa", "Đức Hùng", "Thu Hương", "Văn Khoa",
         "Ngọc Lan", "Hữu Nghĩa", "Thanh Tâm", "Bảo Trâm"]


def make_file(path: Path) -> None:
    """The file an import would receive: title rows, the 2021 header, ROWS people (openpyxl write_only)."""
    from datetime import datetime, timedelta

    from openpyxl import Workbook

    rnd = random.Random(6)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách")
    sheet.append(["DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH"])
    sheet.append(["Chốt: Chốt Bench"])
    sheet.append([])
    sheet.append(HEADER)
    start = datetime(2021, 10, 1, 6, 0)
    for n in range(1, ROWS + 1):
        dest = DESTINATIONS[n % len(DESTINATIONS)] if n % 50 else DESTINATIONS[-1]
        when = start + timedelta(minutes=n // 3)
        sheet.append([n, f"{rnd.choice(SURNAMES)} {rnd.choice(GIVEN)}", 1950 + n % 60,
                      "Nam" if n % 2 else "Nữ", 75000000000 + n,  # a number: the leading zero is gone
                      912000000 + n, "TP Hồ Chí Minh", dest, "Xe máy", f"93F1-{n % 100000:05d}",
                      when.strftime("%d/%m/%Y %H:%M"), "", "5"])
    book.save(path)



def step_calamine(path: str) -> dict:
    import python_calamine

    t = time.perf_counter()
    rows = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
    return {"seconds": time.perf_counter() - t, "rows": len(rows), "peak_mb": peak_mb()}


def step_setup(url: str) -> dict:
    from kiemdich.accounts.operations import create_user
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint

    app = bench_app(url)
    with app.app_context():
        fresh_database()
        checkpoint = Checkpoint(code="BENCH001", name="Chốt Bench", commune_code="25210")
        db.session.add(checkpoint)
        db.session.flush()
        create_user("bench", "bench-password-123", "supervisor", area_codes=["75"])
        db.session.commit()
        return {"checkpoint_id": checkpoint.id}


def multipart(fields: dict, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "kdbench" + os.urandom(8).hex()
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Peak(threading.Thread):
    """Samples the resident memory of a process and of its children until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.main = self.children = 0.0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            try:
                self.main = max(self.main, self.proc.memory_info().rss / 2**20)
                kids = sum(c.memory_info().rss for c in self.proc.children(recursive=True)) / 2**20
                self.children = max(self.children, kids)
            except psutil.Error:
                pass


def through_the_app(url: str, path: Path, checkpoint_id: int, tmp: Path) -> dict:
    from sqlalchemy import create_engine, text

    env = server_env(url, tmp / "instance", KIEMDICH_QUEUE_FILE=str(tmp / "huey.db"))
    consumer = subprocess.Popen([str(BIN / "huey_consumer"), "kiemdich.tasks.huey", "-w", "2", "-k", "thread"],
                                cwd=ROOT, env=env, stdout=(tmp / "consumer.log").open("wb"),
                                stderr=subprocess.STDOUT)
    peak = Peak(consumer.pid)
    peak.start()
    web, port = gunicorn("app:app", env)
    engine = create_engine(url)

    def status(batch_id):
        with engine.connect() as conn:
            return conn.execute(text("SELECT status, mapping FROM import_batch WHERE id = :i"), {"i": batch_id}).one()

    def wait(batch_id, want):
        while True:
            state, mapping = status(batch_id)
            if state == want:
                return mapping
            if state in ("failed", "refused"):
                raise SystemExit(f"batch {batch_id} {state}; see {tmp / 'consumer.log'}")
            time.sleep(0.1)

    try:
        client = Client(port)
        client.sign_in("bench", "bench-password-123")
        csrf = lambda page: re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.request("GET", page)[1]).group(1)  # noqa: E731
        times = {}
        data = path.read_bytes()
        body, ctype = multipart({"csrf_token": csrf("/nhap/"), "checkpoint": checkpoint_id}, path.name, data)
        t0 = time.perf_counter()
        state, _html, response = client.request("POST", "/nhap/", body, {"Content-Type": ctype})
        assert state == 302, state
        batch_id = int(response.getheader("Location").rstrip("/").rsplit("/", 1)[-1])
        mapping = wait(batch_id, "uploaded")
        times["upload+read"] = time.perf_counter() - t0
        t = time.perf_counter()
        form = {"csrf_token": csrf(f"/nhap/{batch_id}"), "checkpoint": checkpoint_id}
        form.update({f"col-{i}": mapping["map"].get(label, "") for i, label in enumerate(mapping["labels"])})
        client.request("POST", f"/nhap/{batch_id}/cot", urlencode(form))
        wait(batch_id, "analysed")
        times["dry_run"] = time.perf_counter() - t
        t = time.perf_counter()
        client.request("POST", f"/nhap/{batch_id}/ghi", urlencode({"csrf_token": csrf(f"/nhap/{batch_id}")}))
        wait(batch_id, "committed")
        times["commit"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - t0
        with engine.connect() as conn:
            counts = conn.execute(text("SELECT counts FROM import_batch WHERE id = :i"), {"i": batch_id}).scalar()
            written = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                       for t in ("declaration", "passage", "arrival")}
        # CPU seconds of the consumer (its threads and its reading child) and of the database
        # backends: steadier than wall time on a shared machine, where other work takes turns.
        cpu = peak.proc.cpu_times()
        consumer_cpu = cpu.user + cpu.system + cpu.children_user + cpu.children_system
        with engine.connect() as conn:
            server_cpu = _server_cpu(conn)
    finally:
        peak.done.set()
        stop(web)
        consumer.terminate()
        consumer.wait(30)
        engine.dispose()
    return {"seconds": times, "counts": counts, "written": written, "consumer_peak_mb": peak.main,
            "reader_peak_mb": peak.children, "engine": url.split(":", 1)[0],
            "consumer_cpu": consumer_cpu, "server_cpu": server_cpu}


def _server_cpu(conn) -> float | None:
    """CPU seconds used so far by this database's backends (PostgreSQL on this machine), else None."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return None
    pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kd-bench-"))
    url = database_url(tmp=tmp)
    path = tmp / f"qua-chot-{ROWS}.xlsx"
    t = time.perf_counter()
    if os.environ.get("BENCH_FILE"):  # a file an earlier run generated (make_file is deterministic)
        path.write_bytes(Path(os.environ["BENCH_FILE"]).read_bytes())
    else:
        make_file(path)
    print(f"generated {ROWS:,} rows: {path.stat().st_size / 2**20:.1f} MB in {time.perf_counter() - t:.1f} s")
    bare = run_step(__file__, "calamine", path)
    setup = run_step(__file__, "setup", url)
    result = through_the_app(url, path, setup["checkpoint_id"], tmp)
    s = result["seconds"]
    print(f"engine: {result['engine']} (gunicorn + huey_consumer; the machine is shared: expect noise)")
    print(f"bare python-calamine read: {bare['seconds']:.2f} s, peak {bare['peak_mb']:.0f} MB")
    print("import: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.items()))
    print(f"counts: {result['counts']}")
    print(f"written: {result['written']}")
    print(f"consumer peak memory: {result['consumer_peak_mb']:.0f} MB (its reading child: "
          f"{result['reader_peak_mb']:.0f} MB)")
    server = result["server_cpu"]
    print(f"cpu: consumer {result['consumer_cpu']:.1f} s" + (f", database backends still connected {server:.1f} s" if server is not None else ""))
    print(f"RATIO import end to end / bare calamine read: {s['total'] / bare['seconds']:.1f}x")
    print(f"RATIO consumer peak memory / bare read: {result['consumer_peak_mb'] / bare['peak_mb']:.1f}x")

if __name__ == "__main__":
    if len(sys.argv) > 1:
        step = sys.argv[1]
        if step == "calamine":
            print(json.dumps(step_calamine(sys.argv[2])))
        elif step == "setup":
            print(json.dumps(step_setup(sys.argv[2])))
    else:
        main()
