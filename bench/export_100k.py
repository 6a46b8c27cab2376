"""Bench: 100,000 passages exported as .xlsx, as a ratio to a bare openpyxl write_only of the same rows.

The export reads the passages from the database in batches (yield_per), names places and
instructions, neutralises formulas and writes the workbook row by row; the baseline writes the
same rows, already in hand, with openpyxl write_only and nothing else. Each runs in its own
process, so the peak memory printed is its own.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_h6 .venv/bin/python bench/export_100k.py

The database's public schema is dropped and rebuilt.
"""
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, database_url, fresh_database, peak_mb, run_step  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
START = datetime(2021, 10, 1, 0, 0, tzinfo=timezone.utc)



def step_setup(url: str) -> dict:
    """A fresh schema with ROWS passages at one checkpoint (bulk inserts, not timed)."""
    from sqlalchemy import insert

    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint, Declaration, Passage

    app = bench_app(url)
    with app.app_context():
        fresh_database()
        checkpoint = Checkpoint(code="BENCH002", name="Chốt Bench", commune_code="25210")
        db.session.add(checkpoint)
        db.session.flush()
        for start in range(0, ROWS, 5000):
            n_range = range(start, min(start + 5000, ROWS))
            ids = db.session.execute(insert(Declaration).returning(Declaration.id, sort_by_parameter_order=True), [
                {"code": f"B{n:07d}", "token_id": uuid.uuid4().hex[:16], "full_name": f"Nguyễn Văn Bench {n}",
                 "search_name": f"nguyen van bench {n}", "id_type": "cccd", "id_number": f"0{75000000000 + n}",
                 "birth_year": 1950 + n % 60, "sex": "nam" if n % 2 else "nu", "phone": f"09{12000000 + n:08d}",
                 "origin_province_code": "79", "dest_commune_code": "25417" if n % 3 else "25210",
                 "travel_date": date(2021, 10, 1), "vehicle_type": "xe_may", "vehicle_plate": f"93F1-{n:05d}",
                 "consent_version": "bench", "source": "import", "symptoms": [],
                 "valid_until": START + timedelta(days=3)} for n in n_range]).scalars().all()
            db.session.execute(insert(Passage), [
                {"declaration_id": d, "checkpoint_id": checkpoint.id, "kind": "staff", "decision": "allow",
                 "instruction_code": 5, "client_uuid": str(uuid.uuid4()),
                 "client_ts": START + timedelta(seconds=20 * n), "server_ts": START + timedelta(seconds=20 * n)}
                for n, d in zip(n_range, ids)])
        db.session.commit()
        return {"checkpoint_id": checkpoint.id}


def step_export(url: str, checkpoint_id: int, out: str) -> dict:
    from kiemdich.exports import operations

    app = bench_app(url)
    with app.app_context():
        t = time.perf_counter()
        with open(out, "wb") as f:
            rows = operations.passage_rows([checkpoint_id], date(2021, 9, 30), date(2022, 1, 31))
            count = operations.write_xlsx(f, ["DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH"], operations.HEADER, rows)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": count, "peak_mb": peak_mb(), "bytes": os.path.getsize(out)}


def step_rows(url: str, checkpoint_id: int, out: str) -> dict:
    """The same rows, materialised, for the baseline (not timed)."""
    from kiemdich.exports import operations

    app = bench_app(url)
    with app.app_context():
        rows = list(operations.passage_rows([checkpoint_id], date(2021, 9, 30), date(2022, 1, 31)))
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False)
    return {"rows": len(rows)}


def step_bare(rows_path: str, out: str) -> dict:
    from openpyxl import Workbook

    with open(rows_path, encoding="utf-8") as f:
        rows = json.load(f)
    base = peak_mb()
    t = time.perf_counter()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách")
    for row in rows:
        sheet.append(row)
    book.save(out)
    return {"seconds": time.perf_counter() - t, "peak_mb": peak_mb(), "rows_loaded_mb": base}



def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kd-bench-"))
    url = database_url(tmp=tmp)
    setup = run_step(__file__, "setup", url)
    cp = setup["checkpoint_id"]
    run_step(__file__, "rows", url, cp, tmp / "rows.json")
    bare = run_step(__file__, "bare", tmp / "rows.json", tmp / "bare.xlsx")
    export = run_step(__file__, "export", url, cp, tmp / "export.xlsx")
    print(f"engine: {url.split(':', 1)[0]}; rows: {export['rows']:,}; file {export['bytes'] / 2**20:.1f} MB")
    print(f"bare openpyxl write_only of the same rows: {bare['seconds']:.2f} s "
          f"(peak {bare['peak_mb']:.0f} MB, of which {bare['rows_loaded_mb']:.0f} MB is the rows held in memory)")
    print(f"export (query + format + write): {export['seconds']:.2f} s, peak {export['peak_mb']:.0f} MB")
    print(f"RATIO export / bare write: {export['seconds'] / bare['seconds']:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        step, args = sys.argv[1], sys.argv[2:]
        result = {"setup": lambda: step_setup(args[0]),
                  "export": lambda: step_export(args[0], int(args[1]), args[2]),
                  "rows": lambda: step_rows(args[0], int(args[1]), args[2]),
                  "bare": lambda: step_bare(args[0], args[1])}[step]()
        print(json.dumps(result))
    else:
        main()
