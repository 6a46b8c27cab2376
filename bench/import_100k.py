"""Bench: a generated 100,000-row .xlsx imported end to end, as a ratio to a bare python-calamine read.

End to end = read + header + store rows, dry run (parse, validate, resolve addresses, duplicates),
then commit (again the rules, then declarations, passages, arrivals in one transaction). Each step
runs in its own process so its peak memory (ru_maxrss) is its own.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h6 .venv/bin/python bench/import_100k.py

Without BENCH_DATABASE_URL a SQLite file in a temporary folder is used. The database's public
schema is dropped and rebuilt: never point this at a database you care about.
"""
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, database_url, fresh_database, peak_mb, run_step  # noqa: E402

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


def step_import(url: str, path: str, checkpoint_id: int) -> dict:
    from sqlalchemy import func, select

    from kiemdich.extensions import db
    from kiemdich.imports import operations
    from kiemdich.models import Arrival, Declaration, Passage, User

    app = bench_app(url)
    times = {}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench"))
        t0 = time.perf_counter()
        data = Path(path).read_bytes()
        table, header = operations.parse_upload(data)
        times["read"] = time.perf_counter() - t0
        t = time.perf_counter()
        batch = operations.create_batch(Path(path).name, data, user=user, checkpoint_id=checkpoint_id)
        del data
        operations.store_rows(batch, table, header)
        db.session.commit()
        del table
        times["store_rows"] = time.perf_counter() - t
        t = time.perf_counter()
        operations.dry_run(batch, user)
        db.session.commit()
        times["dry_run"] = time.perf_counter() - t
        t = time.perf_counter()
        counts = operations.commit(batch, user)
        db.session.commit()
        times["commit"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - t0
        written = {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                   for m in (Declaration, Passage, Arrival)}
    return {"seconds": times, "counts": counts, "written": written, "peak_mb": peak_mb(),
            "engine": url.split(":", 1)[0]}



def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kd-bench-"))
    url = database_url(tmp=tmp)
    path = tmp / f"qua-chot-{ROWS}.xlsx"
    t = time.perf_counter()
    make_file(path)
    print(f"generated {ROWS:,} rows: {path.stat().st_size / 2**20:.1f} MB in {time.perf_counter() - t:.1f} s")
    bare = run_step(__file__, "calamine", path)
    setup = run_step(__file__, "setup", url)
    result = run_step(__file__, "import", url, path, setup["checkpoint_id"])
    s = result["seconds"]
    print(f"engine: {result['engine']}")
    print(f"bare python-calamine read: {bare['seconds']:.2f} s, peak {bare['peak_mb']:.0f} MB")
    print("import: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.items()))
    print(f"counts: {result['counts']}")
    print(f"written: {result['written']}")
    print(f"import peak memory: {result['peak_mb']:.0f} MB")
    print(f"RATIO import end to end / bare calamine read: {s['total'] / bare['seconds']:.1f}x")
    print(f"RATIO peak memory import / bare read: {result['peak_mb'] / bare['peak_mb']:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        step = sys.argv[1]
        if step == "calamine":
            print(json.dumps(step_calamine(sys.argv[2])))
        elif step == "setup":
            print(json.dumps(step_setup(sys.argv[2])))
        elif step == "import":
            print(json.dumps(step_import(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        main()
