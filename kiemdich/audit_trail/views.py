"""The audit trail screen (/nhat-ky): filter and read; GET only, there is no route that changes an event."""
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select, union
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from ..accounts.auth import role_required
from ..accounts.scope import commune_codes
from ..exports.operations import local_range
from ..extensions import db, htmx
from ..models import AuditEvent, Checkpoint, UserArea, UserCheckpoint
from ..text import form_int

bp = Blueprint("audit_trail", __name__, url_prefix="/nhat-ky")
PAGE = 30

GROUPS = {"auth": _l("Sign-ins"), "account": _l("Accounts"), "export": _l("Exports"), "import": _l("Imports"),
          "id": _l("ID number reveals"), "arrival": _l("Arrivals"), "passage": _l("Passages"),
          "rule": _l("Monitoring rules"), "level": _l("Epidemic levels"), "checkpoint": _l("Checkpoints"),
          "declaration": _l("Declarations"), "dsr": _l("Data-subject requests"),
          "privacy_notice": _l("Privacy notice"), "retention": _l("Retention")}


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # reading only

    action = SelectField(_l("What"), validators=[Optional()], validate_choice=False)
    user = StringField(_l("Username"), validators=[Optional(), Length(max=64)])
    obj = StringField(_l("Object (code or number)"), validators=[Optional(), Length(max=40)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


def scoped(user):
    """Events a user may read: all for admins; for a supervisor, those about their area or done by its people."""
    stmt = select(AuditEvent)
    if user.role == "admin":
        return stmt
    codes = list(commune_codes(user)) or [""]
    people = union(
        select(UserArea.user_id).where(UserArea.area_code.in_(codes)),
        select(UserCheckpoint.user_id).join(Checkpoint, Checkpoint.id == UserCheckpoint.checkpoint_id)
        .where(Checkpoint.commune_code.in_(codes)))
    return stmt.where(or_(AuditEvent.area_code.in_(codes), AuditEvent.user_id.in_(people)))


def filtered(stmt, form: FilterForm):
    """Apply the screen's filters (only those that validated)."""
    action = form.action.data or ""
    if action in GROUPS:
        stmt = stmt.where(or_(AuditEvent.action == action, AuditEvent.action.like(f"{action}.%")))
    elif action:
        stmt = stmt.where(AuditEvent.action == action)
    if form.user.data:
        stmt = stmt.where(AuditEvent.username == form.user.data.strip().lower())
    if form.obj.data:
        stmt = stmt.where(AuditEvent.object_id == form.obj.data.strip())
    if form.start.data or form.end.data:
        lo, hi = local_range(form.start.data or form.end.data, form.end.data or form.start.data)
        stmt = stmt.where(AuditEvent.at >= lo, AuditEvent.at < hi)
    return stmt


@bp.get("/")
@role_required("supervisor", "admin")
def index():
    """The audit events in the user's scope, newest first, with filters; "older" loads the next page."""
    form = FilterForm(formdata=request.args)
    valid = form.validate()
    if not valid:
        form = FilterForm(formdata=None)  # show everything rather than half-applied filters
        form.validate()
        form.obj.errors = [_("Some filters were not understood and were ignored.")]
    base = scoped(current_user)
    actions = sorted(set(db.session.scalars(base.with_only_columns(AuditEvent.action).distinct())))
    form.action.choices = ([("", _("Everything"))] + [(k, str(v)) for k, v in GROUPS.items()
                                                        if any(a.split(".")[0] == k for a in actions)]
                           + [(a, a) for a in actions])
    stmt = filtered(base, form)
    before = form_int(request.args.get("before")) or 0  # a number past any id would overflow SQLite
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    events = db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(PAGE + 1)).all()
    older = None
    if len(events) > PAGE:
        events = events[:PAGE]
        query = {k: v for k, v in request.args.items() if k != "before"} | {"before": events[-1].id}
        older = url_for(".index") + "?" + urlencode(query)
    context = {"form": form, "events": events, "older": older, "groups": GROUPS}
    if htmx and before:
        return render_template("audit/_events.html", **context)
    return render_template("audit/index.html", **context), 200 if valid else 422
