"""Large exports as queue jobs: written by the consumer to instance/exports/, downloaded when ready.

A request that would stream more than KIEMDICH_EXPORT_JOB_ROWS rows would hold a web worker for
minutes; instead the export's parameters (a "spec" the rows can be rebuilt from) are queued, the
page polls the job's state and offers the file once written. State is a small JSON file next to
the export, named by a random id and readable only by the user who asked for it. With several
nodes, the instance folder must be shared for the file to be found by whichever node serves the
download. Files older than a day are removed when the next export starts.
"""
import json
import os
import secrets
import time
from datetime import date
from pathlib import Path

from flask import current_app

from ..extensions import db
from ..models import User
from .. import replica
from . import operations

KEEP_SECONDS = 24 * 3600
PROGRESS_EVERY = 2000


def folder() -> Path:
    path = Path(current_app.instance_path) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _state_path(export_id: str) -> Path:
    if not export_id.isalnum():
        raise FileNotFoundError(export_id)
    return folder() / f"{export_id}.json"


def file_path(state: dict) -> Path:
    return folder() / f"{state['id']}.{state['fmt']}"


def state(export_id: str) -> dict | None:
    try:
        return json.loads(_state_path(export_id).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _save(data: dict) -> None:
    path = _state_path(data["id"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)  # a poll never reads half a state


def _sweep() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in folder().iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def start(spec: dict, *, fmt: str, title, header, action: str, detail: str, filename: str,
          area_code: str | None, user) -> str:
    """Queue an export; returns its id (the page at exports.job polls it)."""
    from ..tasks import export_task

    _sweep()
    data = {"id": secrets.token_hex(16), "user_id": user.id, "state": "queued", "rows": 0, "spec": spec,
            "fmt": fmt, "title": list(title), "header": list(header), "action": action, "detail": detail,
            "filename": f"{filename}.{fmt}", "area_code": area_code}
    _save(data)
    export_task(data["id"])
    return data["id"]


def rows_for(spec: dict):
    """The rows of an export, rebuilt from its spec in the consumer."""
    day = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
    if spec["kind"] == "passages":
        return operations.passage_rows(spec["checkpoint_ids"], day(spec["start"]), day(spec["end"]))
    if spec["kind"] == "arrivals":
        return operations.arrival_rows(spec["communes"], spec["statuses"], day(spec["start"]), day(spec["end"]))
    raise ValueError(spec["kind"])


def run(export_id: str) -> None:
    data = state(export_id)
    if data is None or data["state"] not in ("queued", "running"):
        return
    data["state"] = "running"
    _save(data)

    def counted(rows):
        for n, row in enumerate(rows, 1):
            if n % PROGRESS_EVERY == 0:
                data["rows"] = n
                _save(data)
            yield row

    target = file_path(data)
    partial = target.with_suffix(".part")
    try:
        with partial.open("wb") as out, replica.reading():  # the SELECTs read the replica, if any
            count = operations.export(out, data["fmt"], data["title"], data["header"],
                                      counted(rows_for(data["spec"])), action=data["action"],
                                      user=db.session.get(User, data["user_id"]), detail=data["detail"],
                                      area_code=data["area_code"])
        db.session.commit()
        os.replace(partial, target)
        data.update(state="ready", rows=count)
    except Exception:  # noqa: BLE001  the page says it failed; the log has why
        db.session.rollback()
        partial.unlink(missing_ok=True)
        current_app.logger.exception("export %s failed", export_id)
        data["state"] = "failed"
    finally:
        db.session.remove()
    _save(data)
