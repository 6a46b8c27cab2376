"""Sign-in and sign-out, the session's idle timeout, and the role guard every view uses."""
from datetime import datetime, timezone
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from flask_wtf.csrf import CSRFError

from ..extensions import csrf, db, limiter, login_manager
from ..models import User
from ..web import set_language
from .forms import LoginForm
from .operations import authenticate

bp = Blueprint("auth", __name__)

HOMES = {
    "admin": "accounts.index",
    "supervisor": "homes.supervisor",
    "checkpoint": "scan.scan_page",  # staff land where they work (issue 11)
    "commune": "homes.commune",
}


def home_url(user) -> str:
    """Where a role lands after sign-in."""
    return url_for(HOMES[user.role])


def role_required(*roles: str):
    """Only signed-in users with one of `roles`; others get 403 (or the sign-in page)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.roles = roles  # read by the authorization matrix test
        return wrapped

    return decorator


@login_manager.user_loader
def load_user(user_id: str):
    try:
        uid, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, uid)
    # A password reset or deactivation bumps the version and so ends every open session.
    if user is None or user.session_version != version or not user.active:
        return None
    return user


def _idle_timeout():
    """Sign out a session left untouched longer than KIEMDICH_IDLE_MINUTES."""
    if request.endpoint == "static":
        return None  # files are the same for everyone: no user lookup, no cookie, no Vary: Cookie
    if not current_user.is_authenticated:
        return None
    now = datetime.now(timezone.utc).timestamp()
    last = session.get("seen")
    limit = current_app.config["KIEMDICH_IDLE_MINUTES"] * 60
    if last is not None and now - last > limit:
        logout_user()
        session.clear()
        flash(_("You were signed out after a period without activity."), "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    # Write the cookie at most once a minute: fewer Set-Cookie headers on a slow line.
    if last is None or now - last > 60:
        session["seen"] = now
    return None


def init_app(app) -> None:
    """Configure Flask-Login and the idle timeout."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_idle_timeout)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.route("/dang-nhap", methods=["GET", "POST"])
@csrf.exempt  # checked by the form below, after the rate limit, so floods without a token are counted
@limiter.limit("20 per minute", methods=["POST"])
def login():
    """Sign in; every role lands on its own home."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    valid = form.validate_on_submit()
    if form.csrf_token.errors:
        raise CSRFError(form.csrf_token.errors[0])
    if valid:
        cfg = current_app.config
        user, reason = authenticate(form.username.data, form.password.data,
                                    free=cfg["KIEMDICH_LOGIN_FREE_FAILURES"],
                                    base_seconds=cfg["KIEMDICH_LOGIN_BASE_DELAY_SECONDS"])
        db.session.commit()
        if user:
            session.clear()
            session.permanent = True
            login_user(user)
            session["seen"] = datetime.now(timezone.utc).timestamp()
            nxt = _safe_next(request.args.get("next"))
            return redirect(nxt if nxt and nxt != "/" else home_url(user))
        messages = {
            "invalid": _("Wrong username or password."),
            "locked": _("Too many wrong attempts. Please wait a few minutes and try again."),
            "inactive": _("This account has been deactivated. Contact your administrator."),
        }
        form.password.errors.append(messages[reason])
        return render_template("auth/login.html", form=form), 401 if reason != "locked" else 429
    return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200


@bp.post("/dang-xuat")
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
def index():
    """Home: the role's page when signed in, else the public start page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return render_template("public/index.html")


@bp.get("/ngon-ngu/<lang>")
def language(lang: str):
    """Switch the interface language (vi or en)."""
    return set_language(lang)
