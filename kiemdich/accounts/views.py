"""Admin pages: issue accounts, reset passwords, deactivate and reactivate."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..areas import operations as areas
from ..extensions import db
from ..web import page_or_fragment
from ..models import Checkpoint, User
from .auth import role_required
from .forms import ResetPasswordForm, UserForm
from .operations import AccountError, create_user, end_every_session, reset_password, set_active

bp = Blueprint("accounts", __name__, url_prefix="/quan-tri/tai-khoan")


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.get("/")
@role_required("admin")
def index():
    """All accounts, newest first."""
    users = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("accounts/index.html", users=users)


def _area_codes() -> list[str]:
    """The codes chosen so far: the ticked boxes ("area") plus the commune just picked in the list
    ("area_pick", sent alone when scripts are off), in order, once each."""
    return list(dict.fromkeys(c for c in [*request.values.getlist("area"), *request.values.getlist("area_pick")] if c))


def _known_units(codes: list[str]) -> list:
    units = areas.units_by_code(codes)
    return [units[c] for c in codes if c in units and units[c].kind in ("province", "commune")]


def _scope_error(role: str, area_codes: list, checkpoint_ids: list) -> tuple[str, str] | None:
    """(field, message) when the role's scope is missing, so the message sits next to its picker;
    create_user checks the same again."""
    if role == "commune" and not area_codes:
        return "area", _("Choose at least one area for this role.")
    if role == "checkpoint" and not checkpoint_ids:
        return "checkpoints", _("Choose at least one checkpoint for this role.")
    return None


@bp.route("/moi", methods=["GET", "POST"])
@role_required("admin")
def new():
    """Issue an account: role, password and scope. An htmx GET (a commune picked in the list)
    answers the list of chosen communes, so several are picked one after the other."""
    form = UserForm()
    checkpoints = db.session.scalars(select(Checkpoint).where(Checkpoint.active).order_by(Checkpoint.name)).all()
    form.checkpoints.choices = [(c.id, c.name) for c in checkpoints]
    province = request.values.get("area_pick_province") or current_app.config["KIEMDICH_PROVINCE"]
    area_codes = _area_codes()
    chosen = _known_units(area_codes)  # shown ticked; an unknown code is refused by create_user
    unknown = len(chosen) != len(area_codes)
    area_errors = []
    status = 200
    if request.method == "POST":
        if form.validate():
            if not area_codes and form.role.data == "supervisor":  # no commune chosen: the whole province
                area_codes = [request.form.get("area_pick_province") or request.form.get("area_province")
                              or current_app.config["KIEMDICH_PROVINCE"]]
            problem = _scope_error(form.role.data, area_codes, form.checkpoints.data or [])
            try:
                if problem:
                    raise AccountError(problem[1])
                user = create_user(form.username.data, form.password.data, form.role.data,
                                   full_name=form.full_name.data or "", phone=form.phone.data or "",
                                   area_codes=area_codes, checkpoint_ids=form.checkpoints.data or [],
                                   by=current_user)
            except AccountError as err:
                db.session.rollback()
                field = problem[0] if problem else "area" if unknown else "username"
                (area_errors if field == "area" else getattr(form, field).errors).append(str(err))
                status = 422
            else:
                db.session.commit()
                flash(_("Account %(u)s created.", u=user.username), "success")
                return redirect(url_for(".index"))
        else:
            status = 422
    communes = areas.search_communes(request.values.get("area_pick_q", ""), province, 400)
    return page_or_fragment("accounts/new.html", "accounts/_chosen.html", form=form, chosen=chosen,
                            area_errors=area_errors, provinces=areas.provinces(), province=province,
                            communes=communes), status


@bp.route("/<int:user_id>/mat-khau", methods=["GET", "POST"])
@role_required("admin")
def password(user_id: int):
    """Set a new password for an account; its sessions end."""
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset_password(user, form.password.data, by=current_user)
        except AccountError as err:
            form.password.errors.append(str(err))
        else:
            db.session.commit()
            flash(_("Password of %(u)s changed.", u=user.username), "success")
            return redirect(url_for(".index"))
    return render_template("accounts/password.html", form=form, user=user), 422 if form.errors else 200


@bp.post("/<int:user_id>/kich-hoat")
@role_required("admin")
def activation(user_id: int):
    """Deactivate or reactivate (idempotent: repeating it changes nothing)."""
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot deactivate your own account."), "error")
    else:
        set_active(user, active, by=current_user)
        db.session.commit()
        flash(_("Account %(u)s activated.", u=user.username) if active
              else _("Account %(u)s deactivated.", u=user.username), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/dang-xuat")
@role_required("admin")
def sign_out_everywhere(user_id: int):
    """End every open session of an account (a lost phone, a shared computer); it can sign in again."""
    user = _user_or_404(user_id)
    end_every_session(user, by=current_user)
    db.session.commit()
    flash(_("Account %(u)s is signed out on every device.", u=user.username), "success")
    return redirect(url_for(".index"))
