"""Supervisors manage the checkpoints of their area; posters and QR downloads for print."""
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import qrcodes, settings
from ..accounts.auth import role_required
from ..accounts.scope import can_see_checkpoint
from ..areas import operations as areas
from ..extensions import db
from ..models import AdminUnit, Checkpoint, User, UserCheckpoint
from ..text import form_int
from . import operations as ops
from .forms import CheckpointForm

bp = Blueprint("checkpoints", __name__, url_prefix="/checkpoints")


def _checkpoint_or_404(checkpoint_id: int) -> Checkpoint:
    """The checkpoint, if the user's scope covers it; otherwise 404, so ids outside reveal nothing."""
    cp = db.session.get(Checkpoint, checkpoint_id)
    if cp is None or not can_see_checkpoint(current_user, cp):
        abort(404)
    return cp


def _picker_context(commune_code: str | None) -> dict:
    province = current_app.config["KIEMDICH_PROVINCE"]
    if commune_code:
        unit = db.session.get(AdminUnit, commune_code)
        province = unit.parent_code if unit is not None and unit.parent_code else province
    return {"provinces": areas.provinces(), "province": province,
            "communes": areas.search_communes("", province, 400)}


def _form_page(form, cp=None, commune_code=None, status=200):
    return render_template("checkpoints/form.html", form=form, checkpoint=cp,
                           selected=[commune_code] if commune_code else [],
                           **_picker_context(commune_code)), status


@bp.get("/")
@role_required("supervisor")
def index():
    """The checkpoints of the supervisor's area."""
    checkpoints = ops.in_scope(current_user)
    staff = {}
    for link in db.session.scalars(select(UserCheckpoint).where(
            UserCheckpoint.checkpoint_id.in_([c.id for c in checkpoints] or [-1]))):
        staff[link.checkpoint_id] = staff.get(link.checkpoint_id, 0) + 1
    return render_template("checkpoints/index.html", checkpoints=checkpoints, staff=staff)


@bp.route("/new", methods=["GET", "POST"])
@role_required("supervisor")
def new():
    """Create a checkpoint in the supervisor's area."""
    form = CheckpointForm()
    commune = request.form.get("commune") or None
    if request.method == "POST":
        if form.validate():
            try:
                cp = ops.create_checkpoint(name=form.name.data, commune_code=commune or "", road=form.road.data,
                                           lat=form.lat.data, lon=form.lon.data, by=current_user)
            except ops.CheckpointError as err:
                db.session.rollback()
                _attach(form, err)
                return _form_page(form, commune_code=commune, status=422)
            db.session.commit()
            flash(_("Checkpoint %(name)s created. Print its poster.", name=cp.name), "success")
            return redirect(url_for(".show", checkpoint_id=cp.id))
        return _form_page(form, commune_code=commune, status=422)
    return _form_page(form)


def _attach(form, err: ops.CheckpointError) -> None:
    """Show an operation's refusal next to its field."""
    if err.field == "commune":
        form.commune_errors = [str(err)]
    else:
        field = form.lat if err.field == "lat" else form.name
        field.errors = list(field.errors) + [str(err)]


@bp.route("/<int:checkpoint_id>/edit", methods=["GET", "POST"])
@role_required("supervisor")
def edit(checkpoint_id: int):
    """Change a checkpoint's details (its code and posters stay valid)."""
    cp = _checkpoint_or_404(checkpoint_id)
    form = CheckpointForm(obj=cp)
    if request.method == "POST":
        commune = request.form.get("commune") or ""
        if form.validate():
            try:
                ops.update_checkpoint(cp, name=form.name.data, commune_code=commune, road=form.road.data,
                                      lat=form.lat.data, lon=form.lon.data, by=current_user)
            except ops.CheckpointError as err:
                db.session.rollback()
                _attach(form, err)
                return _form_page(form, cp, commune, 422)
            db.session.commit()
            flash(_("Checkpoint saved."), "success")
            return redirect(url_for(".show", checkpoint_id=cp.id))
        return _form_page(form, cp, commune, 422)
    return _form_page(form, cp, cp.commune_code)


@bp.get("/<int:checkpoint_id>")
@role_required("supervisor")
def show(checkpoint_id: int):
    """One checkpoint: its poster, its code, its staff."""
    cp = _checkpoint_or_404(checkpoint_id)
    staff_ids = set(db.session.scalars(select(UserCheckpoint.user_id).where(UserCheckpoint.checkpoint_id == cp.id)))
    candidates = {u.id: u for u in ops.assignable_staff(current_user)}
    for uid in staff_ids - set(candidates):  # assigned by an admin from elsewhere: still listed
        candidates[uid] = db.session.get(User, uid)
    url = qrcodes.checkpoint_url(cp.code)
    return render_template("checkpoints/show.html", checkpoint=cp, url=url,
                           qr=qrcodes.svg_inline(qrcodes.make(url), cp.name),
                           candidates=sorted(candidates.values(), key=lambda u: (u.full_name, u.username)),
                           staff_ids=staff_ids, retired=cp.poster_version - 1)


@bp.post("/<int:checkpoint_id>/active")
@role_required("supervisor")
def activation(checkpoint_id: int):
    """Deactivate or reactivate a checkpoint."""
    cp = _checkpoint_or_404(checkpoint_id)
    active = request.form.get("active") == "1"
    ops.set_active(cp, active, by=current_user)
    db.session.commit()
    flash(_("Checkpoint reactivated.") if active else
          _("Checkpoint deactivated: its poster now tells travellers so."), "success")
    return redirect(url_for(".show", checkpoint_id=cp.id))


@bp.post("/<int:checkpoint_id>/rotate")
@role_required("supervisor")
def rotate(checkpoint_id: int):
    """Give the checkpoint a new code; old posters stop working."""
    cp = _checkpoint_or_404(checkpoint_id)
    ops.rotate_code(cp, by=current_user)
    db.session.commit()
    flash(_("New code %(code)s. Print and put up the new poster: the old one no longer works.", code=cp.code),
          "success")
    return redirect(url_for(".show", checkpoint_id=cp.id))


@bp.post("/<int:checkpoint_id>/staff")
@role_required("supervisor")
def staff(checkpoint_id: int):
    """Assign checkpoint staff accounts."""
    cp = _checkpoint_or_404(checkpoint_id)
    ids = [form_int(i) for i in request.form.getlist("staff")]
    try:
        if None in ids:  # not an account id at all: refused like an account that cannot be assigned
            raise ops.CheckpointError(_("One of the chosen accounts cannot be assigned to this checkpoint."), "staff")
        ops.set_staff(cp, ids, by=current_user)
    except ops.CheckpointError as err:
        db.session.rollback()
        flash(str(err), "error")
        return redirect(url_for(".show", checkpoint_id=cp.id))
    db.session.commit()
    flash(_("Staff of the checkpoint saved."), "success")
    return redirect(url_for(".show", checkpoint_id=cp.id))


@bp.get("/<int:checkpoint_id>/poster")
@role_required("supervisor", "checkpoint")
def poster(checkpoint_id: int):
    """Printable A4 poster: QR of at least 15x15 cm, name, three steps, hotline."""
    cp = _checkpoint_or_404(checkpoint_id)
    url = qrcodes.checkpoint_url(cp.code)
    return render_template("checkpoints/poster.html", checkpoint=cp, url=url,
                           qr=qrcodes.svg_inline(qrcodes.make(url), cp.name),
                           hotline=settings.get("hotline"))


def _download(cp: Checkpoint, body: bytes, mimetype: str, ext: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="chot-{cp.code}-v{cp.poster_version}.{ext}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:checkpoint_id>/qr.svg")
@role_required("supervisor", "checkpoint")
def qr_svg(checkpoint_id: int):
    cp = _checkpoint_or_404(checkpoint_id)
    return _download(cp, qrcodes.svg_file(qrcodes.make(qrcodes.checkpoint_url(cp.code)), cp.name),
                     "image/svg+xml", "svg")


@bp.get("/<int:checkpoint_id>/qr.png")
@role_required("supervisor", "checkpoint")
def qr_png(checkpoint_id: int):
    cp = _checkpoint_or_404(checkpoint_id)
    return _download(cp, qrcodes.png_bytes(qrcodes.make(qrcodes.checkpoint_url(cp.code))), "image/png", "png")
