"""Admin pages: issue accounts, reset passwords, deactivate and reactivate."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..areas import operations as areas
from ..extensions import db
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


@bp.route("/moi", methods=["GET", "POST"])
@role_required("admin")
def new():
    """Issue an account: role, password and scope."""
    form = UserForm()
    checkpoints = db.session.scalars(select(Checkpoint).where(Checkpoint.active).order_by(Checkpoint.name)).all()
    form.checkpoints.choices = [(c.id, c.name) for c in checkpoints]
    status = 200
    if request.method == "POST":
        if form.validate():
            area_codes = request.form.getlist("area")
            if not area_codes and form.role.data == "supervisor":  # no commune chosen: the whole province
                area_codes = [request.form.get("area_province") or current_app.config["KIEMDICH_PROVINCE"]]
            try:
                user = create_user(form.username.data, form.password.data, form.role.data,
                                   full_name=form.full_name.data or "", phone=form.phone.data or "",
                                   area_codes=area_codes, checkpoint_ids=form.checkpoints.data or [],
                                   by=current_user)
            except AccountError as err:
                db.session.rollback()
                form.username.errors.append(str(err))
                status = 422
            else:
                db.session.commit()
                flash(_("Account %(u)s created.", u=user.username), "success")
                return redirect(url_for(".index"))
        else:
            status = 422
    return render_template("accounts/new.html", form=form, provinces=areas.provinces(),
                           province=current_app.config["KIEMDICH_PROVINCE"],
                           communes=areas.search_communes("", current_app.config["KIEMDICH_PROVINCE"], 200)), status


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
