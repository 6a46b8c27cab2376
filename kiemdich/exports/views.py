"""Downloading lists: passages for checkpoint staff and supervisors, arrivals for communes."""
import tempfile
from itertools import chain, islice

from flask import Blueprint, abort, current_app, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import role_required
from ..accounts.scope import commune_codes
from ..clock import local, today, utcnow
from ..extensions import db
from ..models import AdminUnit, Checkpoint
from ..models.followup import ARRIVAL_STATUSES
from ..replica import reads_replica
from ..web import page_or_fragment
from . import jobs, operations
from .forms import ArrivalExportForm, PassageExportForm

bp = Blueprint("exports", __name__, url_prefix="/xuat")

MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}


def _visible_checkpoints() -> list[Checkpoint]:
    if current_user.role == "checkpoint":
        stmt = select(Checkpoint).where(Checkpoint.id.in_(current_user.checkpoint_ids))
    else:
        stmt = select(Checkpoint).where(Checkpoint.commune_code.in_(commune_codes(current_user)))
    return list(db.session.scalars(stmt.order_by(Checkpoint.name)))


def _download(fmt: str, title, header, rows, *, action, detail, filename, area_code=None, spec=None):
    # Up to KIEMDICH_EXPORT_JOB_ROWS rows: written to a temporary file row by row, then streamed from
    # it (memory stays flat). More: the queue's consumer writes it and the page offers it when ready.
    limit = current_app.config.get("KIEMDICH_EXPORT_JOB_ROWS", 5000)
    first = list(islice(rows, limit + 1))
    if spec is not None and len(first) > limit:
        export_id = jobs.start(spec, fmt=fmt, title=title, header=header, action=action, detail=detail,
                               filename=filename, area_code=area_code, user=current_user)
        return redirect(url_for(".job", export_id=export_id), 303)
    tmp = tempfile.TemporaryFile()
    operations.export(tmp, fmt, title, header, chain(first, rows), action=action, user=current_user,
                      detail=detail, area_code=area_code)
    db.session.commit()
    tmp.seek(0)
    return send_file(tmp, mimetype=MIMETYPES[fmt], as_attachment=True, download_name=f"{filename}.{fmt}",
                     max_age=0)


def _own_job(export_id: str) -> dict:
    data = jobs.state(export_id)
    if data is None or data["user_id"] != current_user.id:
        abort(404)
    return data


@bp.get("/tep/<export_id>")
@role_required("checkpoint", "supervisor", "commune")
def job(export_id: str):
    """A large export being written by the queue: progress, then the download link (polled by htmx)."""
    data = _own_job(export_id)
    return page_or_fragment("exports/job.html", "exports/_job.html", job=data)


@bp.get("/tep/<export_id>/tai")
@role_required("checkpoint", "supervisor", "commune")
def job_file(export_id: str):
    data = _own_job(export_id)
    if data["state"] != "ready":
        abort(409)
    return send_file(jobs.file_path(data), mimetype=MIMETYPES[data["fmt"]], as_attachment=True,
                     download_name=data["filename"], max_age=0)


def _stamp() -> str:
    return f"Xuất lúc {local(utcnow()).strftime('%H:%M %d/%m/%Y')} bởi {current_user.username}"


@bp.route("/qua-chot", methods=["GET", "POST"])
@role_required("checkpoint", "supervisor")
@reads_replica
def passages():
    """Passages at the user's checkpoints over a period, as .xlsx or .csv."""
    checkpoints = _visible_checkpoints()
    form = PassageExportForm()
    form.checkpoint.choices = [(0, _("All my checkpoints"))] + [(c.id, c.name) for c in checkpoints]
    if not form.is_submitted():
        form.start.data = form.end.data = today()
    if form.validate_on_submit():
        allowed = {c.id: c for c in checkpoints}
        if form.checkpoint.data and form.checkpoint.data not in allowed:
            abort(403)
        chosen = [allowed[form.checkpoint.data]] if form.checkpoint.data else checkpoints
        if not chosen:
            form.checkpoint.errors = [_("You have no checkpoint to export.")]
            return render_template("exports/passages.html", form=form), 422
        start, end = form.start.data, form.end.data
        units = {u.code: u.name for u in db.session.scalars(
            select(AdminUnit).where(AdminUnit.code.in_({c.commune_code for c in chosen})))}
        title = ["DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH",
                 "Chốt: " + "; ".join(c.name for c in chosen),
                 "Địa bàn: " + "; ".join(sorted(set(units.values()))),
                 f"Từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}",
                 _stamp()]
        rows = operations.passage_rows([c.id for c in chosen], start, end)
        return _download(form.fmt.data, title, operations.HEADER, rows, action="export.passages",
                         detail=f"checkpoints={','.join(str(c.id) for c in chosen)} {start}..{end}",
                         filename=f"qua-chot_{start:%Y%m%d}-{end:%Y%m%d}",
                         area_code=chosen[0].commune_code if len(chosen) == 1 else None,
                         spec={"kind": "passages", "checkpoint_ids": [c.id for c in chosen],
                               "start": start.isoformat(), "end": end.isoformat()})
    status = 422 if form.is_submitted() else 200
    return render_template("exports/passages.html", form=form), status


@bp.route("/nguoi-den", methods=["GET", "POST"])
@role_required("commune", "supervisor")
@reads_replica
def arrivals():
    """Arrivals routed to the user's communes, by commune and status."""
    codes = commune_codes(current_user)
    communes = list(db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(codes),
                                                               AdminUnit.kind == "commune")
                                       .order_by(AdminUnit.search_name)))
    form = ArrivalExportForm()
    form.commune.choices = [("", _("All my communes"))] + [(u.code, u.name) for u in communes]
    form.status.choices = [("", _("All statuses"))] + [(s, operations.STATUS[s]) for s in ARRIVAL_STATUSES]
    if form.validate_on_submit():
        # Optional() lets a blank value through unchecked: " " means "all", like "".
        form.commune.data, form.status.data = (form.commune.data or "").strip(), (form.status.data or "").strip()
        if form.commune.data and form.commune.data not in codes:
            abort(403)
        chosen = [form.commune.data] if form.commune.data else sorted(u.code for u in communes)
        if not chosen:
            form.commune.errors = [_("You have no commune to export.")]
            return render_template("exports/arrivals.html", form=form), 422
        names = {u.code: u.name for u in communes}
        start, end = form.start.data, form.end.data
        period = (f"Từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}" if start and end
                  else f"Đến ngày {today():%d/%m/%Y}")
        status = form.status.data
        title = ["DANH SÁCH NGƯỜI ĐẾN ĐỊA BÀN",
                 "Xã, phường: " + "; ".join(names.get(c, c) for c in chosen),
                 "Trạng thái: " + (operations.STATUS[status] if status else "Tất cả"),
                 period, _stamp()]
        rows = operations.arrival_rows(chosen, [status] if status else [], start, end)
        return _download(form.fmt.data, title, operations.ARRIVAL_HEADER, rows, action="export.arrivals",
                         detail=f"communes={','.join(chosen)} status={status or 'all'}",
                         filename=f"nguoi-den_{today():%Y%m%d}",
                         area_code=chosen[0] if len(chosen) == 1 else None,
                         spec={"kind": "arrivals", "communes": chosen, "statuses": [status] if status else [],
                               "start": start.isoformat() if start else None,
                               "end": end.isoformat() if end else None})
    return render_template("exports/arrivals.html", form=form), (422 if form.is_submitted() else 200)
