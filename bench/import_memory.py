"""Bench: peak memory of a 100,000-row import (read and store, dry run, commit) in one process, as a
ratio to a bare python-calamine read of the same file; the goal is at most 300 MB.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h7 .venv/bin/python bench/import_memory.py

Each measured step runs in its own process, so its peak resident memory (ru_maxrss) is its own. The
file is generated here (no spreadsheet with personal data in git). The database's public schema is
dropped and rebuilt: never point this at a database you care about. The machine is shared: the
seconds are noisy; the memory figures much less so.
"""
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, database_url, peak_mb, run_step  # noqa: E402
from import_100k import step_calamine, step_setup  # noqa: E402  (the same baseline and set-up)

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Số CCCD/CMND", "Số điện thoại", "Nơi đi",
          "Nơi đến (xã, tỉnh)", "Phương tiện", "Biển số", "Thời gian qua chốt", "Chốt", "Hướng xử lý"]
DESTINATIONS = ["Xã Nghĩa Trung, Đồng Nai", "Thôn 3, Phường Tân Phú, TP Đồng Xoài, Bình Phước",
                "Xã Đức Liễu, Huyện Bù Đăng, Tỉnh Bình Phước", "xa nghia trung, dong nai",
                "Phường 1, Quận 3, TP Hồ Chí Minh", "Ấp 3, gần chợ"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu", "Phạm Quốc Dũng", "Hoàng Thị Hoa", "Đặng Đức Hùng"]


def make_file(path: Path) -> None:
    from openpyxl import Workbook

    rnd = random.Random(7)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách")
    sheet.append(["DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH"])
    sheet.append([])
    sheet.append(HEADER)
    start = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    for n in range(1, ROWS + 1):
        sheet.append([n, f"{rnd.choice(NAMES)} {n}", 1950 + n % 60, "Nam" if n % 2 else "Nữ", 75000000000 + n,
                      912000000 + n, "TP Hồ Chí Minh", DESTINATIONS[n % len(DESTINATIONS)], "Xe máy",
                      f"93F1-{n % 100000:05d}", (start + timedelta(seconds=n)).strftime("%d/%m/%Y %H:%M"), "", "5"])
    book.save(path)


def step_import(url: str, path: str, checkpoint_id: int, upto: str) -> dict:
    from sqlalchemy import select

    from kiemdich.extensions import db
    from kiemdich.imports import operations
    from kiemdich.models import ImportBatch, User

    app = bench_app(url)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench"))
        t = time.perf_counter()
        if upto == "read":
            data = Path(path).read_bytes()
            table, header = operations.parse_upload(data, filename=Path(path).name)
            batch = operations.create_batch(Path(path).name, data, user=user, checkpoint_id=checkpoint_id)
            del data
            operations.store_rows(batch, table, header)
        else:
            batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
            if upto == "dry_run":
                operations.dry_run(batch, user)
            else:
                operations.commit(batch, user)
        db.session.commit()
        return {"seconds": time.perf_counter() - t, "peak_mb": peak_mb(), "counts": batch.counts}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kd-bench-"))
    url = database_url(tmp=tmp)
    path = tmp / f"qua-chot-{ROWS}.xlsx"
    make_file(path)
    print(f"file: {ROWS:,} rows, {path.stat().st_size / 2**20:.1f} MB; engine {url.split(':', 1)[0]}")
    bare = run_step(__file__, "calamine", path)
    setup = run_step(__file__, "setup", url)
    print(f"bare python-calamine read: {bare['seconds']:.1f} s, peak {bare['peak_mb']:.0f} MB")
    peaks = {}
    for step in ("read", "dry_run", "commit"):
        result = run_step(__file__, "import", url, path, setup["checkpoint_id"], step)
        peaks[step] = result["peak_mb"]
        print(f"{step}: {result['seconds']:.1f} s, peak {result['peak_mb']:.0f} MB, counts {result['counts']}")
    worst = max(peaks.values())
    print(f"import peak memory: {worst:.0f} MB (goal <= 300 MB)")
    print(f"RATIO peak memory import / bare read: {worst / bare['peak_mb']:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        step = sys.argv[1]
        if step == "calamine":
            print(json.dumps(step_calamine(sys.argv[2])))
        elif step == "setup":
            print(json.dumps(step_setup(sys.argv[2])))
        elif step == "import":
            print(json.dumps(step_import(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])))
    else:
        main()
