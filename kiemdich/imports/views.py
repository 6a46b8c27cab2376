"""The import wizard for supervisors: upload, columns, dry run, write; the triage queue."""
import tempfile

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from .. import audit
from ..accounts.auth import role_required
from ..accounts.scope import commune_codes
from ..exports.operations import write_xlsx
from ..extensions import db, limiter
from ..models import Checkpoint, ImportBatch, ImportJob, ImportProfile, ImportRow, User
from ..text import form_int
from ..web import page_or_fragment
from . import jobs, messages, operations, sandbox, values
from .addresses import suggestions
from .header import FIELDS, IGNORE
from .reader import KINDS, FileProblem

bp = Blueprint("imports", __name__, url_prefix="/nhap")
EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".txt")


def _checkpoints() -> list[Checkpoint]:
    stmt = select(Checkpoint).order_by(Checkpoint.name)
    if current_user.role != "admin":
        stmt = stmt.where(Checkpoint.commune_code.in_(commune_codes(current_user)))
    return list(db.session.scalars(stmt))


def _batch(batch_id: int) -> ImportBatch:
    """A batch the user may see: their own, or one for a checkpoint in their area."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    if batch.uploaded_by_id != current_user.id and current_user.role != "admin":
        if not batch.checkpoint_id or batch.checkpoint_id not in {c.id for c in _checkpoints()}:
            abort(404)
    return batch


def _batches():
    visible = [c.id for c in _checkpoints()]
    stmt = select(ImportBatch, User.username).outerjoin(User, User.id == ImportBatch.uploaded_by_id)
    stmt = stmt.where(or_(ImportBatch.uploaded_by_id == current_user.id, ImportBatch.checkpoint_id.in_(visible)))
    return db.session.execute(stmt.order_by(ImportBatch.created_at.desc()).limit(50)).all()


def _index(error: str | None = None, status: int = 200):
    profiles = list(db.session.scalars(select(ImportProfile).order_by(ImportProfile.name)))
    return render_template("imports/index.html", batches=_batches(), checkpoints=_checkpoints(),
                           profiles=profiles, error=error, triage=operations.triage_count(current_user),
                           statuses=messages.STATUS, max_mb=current_app.config["MAX_CONTENT_LENGTH"] // 2**20), status


@bp.get("/")
@role_required("supervisor")
def index():
    """Past imports and the upload form."""
    return _index()


@bp.post("/")
@role_required("supervisor")
@limiter.limit("30 per hour")
def upload():
    """Read an uploaded file; a bad one is refused with one message and nothing is stored."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(_("Choose a file to upload."), 422)
    data = upload.read()
    checkpoint_id = request.form.get("checkpoint", type=int) or None
    if checkpoint_id and checkpoint_id not in {c.id for c in _checkpoints()}:
        abort(403)
    profile_id = form_int(request.form.get("profile")) or None  # a huge number would fail the job, not the form
    try:
        # Only what is cheap and bounded here (type, archive sizes, a name that lies about the content);
        # the rows are read by the queue's consumer in a child process with a memory limit: a crafted
        # file cannot kill a web worker.
        sandbox.check_upload(data, max_unzipped=current_app.config.get("KIEMDICH_IMPORT_MAX_UNZIPPED"),
                             filename=upload.filename, by_content=bool(request.form.get("by_content")))
    except FileProblem as problem:
        return _index(problem.message, 422)
    batch = operations.create_batch(upload.filename, data, user=current_user, checkpoint_id=checkpoint_id)
    jobs.start(batch, "read", current_user.id, profile_id=profile_id, file=data)
    batch = db.session.get(ImportBatch, batch.id)
    if batch.status == "refused":  # read already (a quick consumer, or immediate mode): say why here
        return _index(messages.batch_error(batch.error), 422)
    return redirect(url_for(".show", batch_id=batch.id))


def _samples(batch: ImportBatch, n: int = 3) -> list[dict]:
    rows = db.session.scalars(select(ImportRow.data).where(ImportRow.batch_id == batch.id)
                              .order_by(ImportRow.row_number).limit(n))
    return [{label: values.text(v) for label, v in (row or {}).items()} for row in rows]  # 1981.0 -> 1981


@bp.get("/<int:batch_id>")
@role_required("supervisor")
def show(batch_id: int):
    """The batch at its current step: progress, columns, dry-run result or outcome."""
    batch = _batch(batch_id)
    return _render(batch)


def _render(batch: ImportBatch, *, mapping_errors=None, status: int = 200):
    context = {"batch": batch, "statuses": messages.STATUS, "running": batch.status in messages.RUNNING,
               "job": db.session.get(ImportJob, batch.id),
               "interrupted": batch.status == "failed" and batch.error.startswith("interrupted:"),
               "error": messages.batch_error(batch.error), "fields": FIELDS, "kinds": KINDS}
    if batch.status in ("uploaded", "failed", "analysed"):
        context["previous"] = [(b, db.session.get(User, b.uploaded_by_id) if b.uploaded_by_id else None)
                               for b in operations.previous_imports(batch.file_hash, exclude=batch.id)]
        context["samples"] = _samples(batch)
        context["checkpoints"] = _checkpoints()
    if batch.status in ("analysed", "committed"):
        context["problems"] = operations.problem_rows(batch)
        context["row_errors"] = messages.row_errors
        names = [label for label, fld in batch.mapping.get("map", {}).items() if fld == "full_name"]
        context["name_label"] = names[0] if names else None
    context["mapping_errors"] = mapping_errors or []
    return render_template("imports/batch.html", **context), status


@bp.get("/<int:batch_id>/tien-do")
@role_required("supervisor")
def progress(batch_id: int):
    """The progress bar (polled by htmx); when the job is over, the page reloads itself."""
    batch = _batch(batch_id)
    if batch.status not in messages.RUNNING:
        response = current_app.response_class("", status=200)
        response.headers["HX-Redirect"] = url_for(".show", batch_id=batch.id)
        return response
    return page_or_fragment("imports/batch.html", "imports/_progress.html", batch=batch,
                            job=db.session.get(ImportJob, batch.id),
                            statuses=messages.STATUS, running=True, error="", fields=FIELDS)


@bp.post("/<int:batch_id>/cot")
@role_required("supervisor")
def mapping(batch_id: int):
    """Save the column mapping (and optionally a profile), then start the dry run."""
    batch = _batch(batch_id)
    if batch.status not in ("uploaded", "analysed", "failed"):
        abort(409)
    labels = batch.mapping.get("labels", [])
    chosen = {}
    errors = []
    for i, label in enumerate(labels):
        fld = request.form.get(f"col-{i}", IGNORE)
        if fld not in FIELDS and fld != IGNORE:
            fld = IGNORE
        chosen[label] = fld
    used = [f for f in chosen.values() if f]
    for fld in sorted({f for f in used if used.count(f) > 1}):
        errors.append(_("\"%(field)s\" is chosen for more than one column.", field=FIELDS[fld]))
    if "full_name" not in used:
        errors.append(_("Choose the column that holds the full name."))
    if "passed_at" not in used:
        errors.append(_("Choose the column that holds the time of passage."))
    checkpoint_id = request.form.get("checkpoint", type=int) or None
    if checkpoint_id and checkpoint_id not in {c.id for c in _checkpoints()}:
        abort(403)
    if "checkpoint" not in used and not checkpoint_id:
        errors.append(_("Choose the checkpoint of this list, or map the checkpoint column."))
    if operations.previous_imports(batch.file_hash, exclude=batch.id) and not request.form.get("again"):
        errors.append(_("This file was imported before: tick the box to import it again."))
    batch.mapping = {**batch.mapping, "map": chosen}
    batch.checkpoint_id = checkpoint_id
    if errors:
        return _render(batch, mapping_errors=errors, status=422)
    profile_name = (request.form.get("profile_name") or "").strip()
    if profile_name:
        profile = operations.save_profile(profile_name, chosen, user=current_user)
        batch.profile_id = profile.id
    if operations.checkpoint_names(batch):
        # The file names its checkpoints: each name is mapped to one of ours first, like the columns.
        batch.mapping = {**batch.mapping, "step": "checkpoints"}
        db.session.commit()
        return redirect(url_for(".checkpoints", batch_id=batch.id))
    jobs.start(batch, "dry_run", current_user.id)
    return redirect(url_for(".show", batch_id=batch.id))


@bp.route("/<int:batch_id>/chot", methods=["GET", "POST"])
@role_required("supervisor")
def checkpoints(batch_id: int):
    """Each checkpoint name written in the file -> one of the app's checkpoints, then the dry run."""
    batch = _batch(batch_id)
    if batch.status not in ("uploaded", "analysed", "failed"):
        abort(409)
    names = operations.checkpoint_names(batch)
    visible = _checkpoints()
    errors = []
    if request.method == "POST":
        chosen = {}
        for i, (name, _count) in enumerate(names):
            cp = form_int(request.form.get(f"cp-{i}"))
            if cp not in {c.id for c in visible}:
                errors.append(_("Choose the checkpoint for “%(name)s”.", name=name))
            else:
                chosen[name] = cp
        if not errors:
            operations.map_checkpoints(batch, chosen)
            db.session.commit()
            jobs.start(batch, "dry_run", current_user.id)
            return redirect(url_for(".show", batch_id=batch.id))
    remembered = batch.mapping.get("checkpoints") or {}
    rows = [(name, n, operations.suggest_checkpoint(name, visible, remembered)) for name, n in names]
    html = render_template("imports/checkpoints.html", batch=batch, names=rows, checkpoints=visible,
                           errors=errors, statuses=messages.STATUS)
    return html, 422 if errors else 200


@bp.post("/<int:batch_id>/ghi")
@role_required("supervisor")
def commit(batch_id: int):
    """Write the good rows in one transaction, in the background."""
    batch = _batch(batch_id)
    if batch.status != "analysed":
        abort(409)
    jobs.start(batch, "commit", current_user.id)
    return redirect(url_for(".show", batch_id=batch.id))


@bp.post("/<int:batch_id>/tiep-tuc")
@role_required("supervisor")
def resume(batch_id: int):
    """Run an interrupted job again (its process died): nothing of it was written."""
    batch = _batch(batch_id)
    audit.record("import.resume", batch)
    try:
        jobs.resume(batch, current_user.id)  # commits
    except operations.ImportFailure:
        abort(409)
    return redirect(url_for(".show", batch_id=batch.id))


@bp.post("/<int:batch_id>/sua-cot")
@role_required("supervisor")
def remap(batch_id: int):
    """Back from the dry run to the columns."""
    batch = _batch(batch_id)
    if batch.status not in ("analysed", "failed"):
        abort(409)
    batch.status = "uploaded"
    db.session.commit()
    return redirect(url_for(".show", batch_id=batch.id))


@bp.post("/<int:batch_id>/huy")
@role_required("supervisor")
def cancel(batch_id: int):
    """Drop a batch that was not written: its rows are deleted."""
    batch = _batch(batch_id)
    if batch.status not in ("uploaded", "analysed", "failed", "refused"):
        abort(409)
    db.session.execute(ImportRow.__table__.delete().where(ImportRow.batch_id == batch.id))
    operations.drop_readings([batch.id])
    db.session.execute(ImportJob.__table__.update().where(ImportJob.batch_id == batch.id).values(file=None))
    batch.status = "cancelled"
    audit.record("import.cancel", batch)
    db.session.commit()
    flash(_("The import was cancelled; nothing was written."), "info")
    return redirect(url_for(".index"))


@bp.get("/<int:batch_id>/bao-cao-loi.xlsx")
@role_required("supervisor")
def error_report(batch_id: int):
    """Every rejected row as it was in the file, with a "Lỗi" column saying why."""
    batch = _batch(batch_id)
    labels = batch.mapping.get("labels", [])

    rows = operations.report_rows(batch, messages.row_errors)
    tmp = tempfile.TemporaryFile()
    written = write_xlsx(tmp, [f"BÁO CÁO LỖI NHẬP: {batch.filename}"], ["Dòng"] + labels + ["Lỗi"], rows)
    tmp.seek(0)
    # The report repeats ID numbers and phones of the rejected rows: who took it is recorded.
    audit.record("import.error_report", batch, detail=f"rows={written}")
    db.session.commit()
    return send_file(tmp, as_attachment=True, download_name=f"loi-nhap-{batch.id}.xlsx", max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/phan-loai")
@role_required("supervisor")
def triage():
    """Rows whose destination could not be resolved: pick the commune, the arrival is routed."""
    home = current_app.config["KIEMDICH_PROVINCE"]
    items = []
    for row, declaration in operations.triage_rows(current_user):
        text = declaration.dest_street or ""
        items.append({"row": row, "declaration": declaration, "text": text,
                      "suggestions": suggestions(text, home)})
    return render_template("imports/triage.html", items=items, province=home, row_errors=messages.row_errors)


@bp.post("/phan-loai/<int:row_id>")
@role_required("supervisor")
def resolve(row_id: int):
    """Route one triaged row to the chosen commune of the province."""
    found = operations.triage_rows(current_user, row_id=row_id)
    if not found:
        abort(404)
    row = found[0][0]
    code = request.form.get("commune") or request.form.get(f"c{row_id}") or ""
    if code not in commune_codes(current_user):
        flash(_("Choose a commune of your area."), "error")
        return redirect(url_for(".triage")), 303
    try:
        operations.resolve_triage(row, code, user=current_user)
    except operations.ImportFailure:
        flash(_("Choose a commune of the province."), "error")
        return redirect(url_for(".triage")), 303
    db.session.commit()
    flash(_("Routed to the chosen commune."), "success")
    return redirect(url_for(".triage")), 303

