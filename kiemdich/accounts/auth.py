"""Sign-in and sign-out, the session's hard end and idle timeout, and the role guard every view uses."""
import re
from datetime import datetime, timezone
from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer

from ..extensions import csrf, db, limiter, login_manager
from ..models import User
from ..web import set_language
from .forms import LoginForm
from .operations import authenticate, end_every_session, end_session, open_session_user, start_session

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
    return open_session_user(uid, version, session.get("sid"))


def _end_here(message: str):
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def _session_limits():
    """Sign out a session past its hard end (KIEMDICH_SESSION_HOURS after sign-in, whatever the
    activity) or left untouched longer than KIEMDICH_IDLE_MINUTES. A replayed outbox item meeting
    either gets the redirect to sign in, and keeps the item."""
    if request.endpoint == "static":
        return None  # files are the same for everyone: no user lookup, no cookie, no Vary: Cookie
    if "_user_id" not in session or request.endpoint in ("auth.login", "auth.logout"):
        return None  # signing in replaces the session; signing out ends it anyway
    now = datetime.now(timezone.utc).timestamp()
    signed_in = session.get("signed_in")
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    if not isinstance(signed_in, (int, float)) or now - signed_in > lifetime:
        return _end_here(_("Your sign-in has ended after %(h)s hours. Please sign in again.",
                           h=round(lifetime / 3600)))
    if not current_user.is_authenticated:
        return None
    last = session.get("seen")
    limit = current_app.config["KIEMDICH_IDLE_MINUTES"] * 60
    if last is not None and now - last > limit:
        return _end_here(_("You were signed out after a period without activity."))
    # Write the cookie at most once a minute: fewer Set-Cookie headers on a slow line.
    if last is None or now - last > 60:
        session["seen"] = now
    return None


def init_app(app) -> None:
    """Configure Flask-Login and the session limits."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_session_limits)


# Characters browsers drop from a URL before parsing it (WHATWG URL: leading and trailing C0
# controls and spaces, and every tab and newline anywhere): "/\t/evil.example" becomes "//evil.example".
_STRIPPED = re.compile(r"[\t\n\r]")
_EDGES = "".join(chr(c) for c in range(0x21))


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site as a browser would read it, else None.

    The value is normalised the way a browser normalises a Location header (edges trimmed, tabs and
    newlines removed, backslashes read as slashes) and refused if it then names a scheme or a host,
    or still holds a control character."""
    if not target or not isinstance(target, str):
        return None
    path = _STRIPPED.sub("", target.strip(_EDGES)).replace("\\", "/")
    if not path.startswith("/") or path.startswith("//"):
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path


KNOWN_COOKIE = "kd_known"
KNOWN_SALT = "kiemdich.known-device"


def _known_ids() -> set[int]:
    """Accounts that signed in before on this browser (a signed cookie sent only to /dang-nhap)."""
    raw = request.cookies.get(KNOWN_COOKIE)
    if not raw:
        return set()
    try:
        ids = URLSafeSerializer(current_app.secret_key, salt=KNOWN_SALT).loads(raw)
    except BadSignature:
        return set()
    return {i for i in ids if isinstance(i, int)} if isinstance(ids, list) else set()


def _remember_device(response, user) -> None:
    ids = [i for i in _known_ids() if i != user.id][-7:] + [user.id]
    response.set_cookie(KNOWN_COOKIE, URLSafeSerializer(current_app.secret_key, salt=KNOWN_SALT).dumps(ids),
                        max_age=180 * 86400, path=url_for("auth.login"), httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


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
                                    source=request.remote_addr or "", known=_known_ids(),
                                    free=cfg["KIEMDICH_LOGIN_FREE_FAILURES"],
                                    base_seconds=cfg["KIEMDICH_LOGIN_BASE_DELAY_SECONDS"],
                                    account_free=cfg["KIEMDICH_LOGIN_ACCOUNT_FAILURES"])
        token = start_session(user, cfg["PERMANENT_SESSION_LIFETIME"].total_seconds() / 3600) if user else None
        db.session.commit()
        if user:
            session.clear()
            session.permanent = True
            login_user(user)
            now = datetime.now(timezone.utc).timestamp()
            session.update(sid=token, signed_in=now, seen=now)
            nxt = safe_next(request.args.get("next"))
            response = redirect(nxt if nxt and nxt != "/" else home_url(user))
            _remember_device(response, user)
            return response
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
    """Sign out: this session ends on the server too; with everywhere=1, every session of the account."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is not None and request.form.get("everywhere") == "1":
        end_every_session(user, by=user)
        message = _("You have signed out on every device.")
    else:
        end_session(user, session.get("sid"))
        message = _("You have signed out.")
    db.session.commit()
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("auth.login"))


@bp.get("/phien-dang-nhap")
@login_required
def my_session():
    """When this sign-in started and ends, and the two ways out (here, or on every device)."""
    started = datetime.fromtimestamp(session["signed_in"], timezone.utc)
    ends = started + current_app.config["PERMANENT_SESSION_LIFETIME"]
    return render_template("auth/session.html", started=started, ends=ends)


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
