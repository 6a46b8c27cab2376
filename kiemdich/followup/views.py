"""Commune follow-up pages (/xa...) and the returnee's own actions from the status link (/q/...)."""
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from sqlalchemy import or_, select, union_all
from sqlalchemy.orm import aliased, joinedload

from .. import clock, persons, settings, tokens
from ..accounts.auth import role_required
from ..accounts.scope import commune_codes, commune_codes_select
from ..areas import operations as areas
from ..declarations import operations as declarations
from ..declarations.forms import SEX_CHOICES, SYMPTOM_LABELS, VEHICLE_LABELS
from ..extensions import csrf, db, limiter
from ..models import AdminUnit, Arrival, ArrivalEvent, ArrivalTrip, Declaration, HealthCheck, Passage, User
from ..offline.views import SHELL, offline_page
from ..traveller.status import link_expired
from ..web import page_or_fragment
from . import forms, handover as handover_ops, lists, operations as ops, schedule

bp = Blueprint("followup", __name__)

# The commune officer's home and the people they opened stay usable offline (kiemdich/offline):
# checks and confirmations made there wait in the outbox.
if "homes.commune" not in SHELL.setdefault("commune", []):
    SHELL["commune"].append("homes.commune")

SELF_MAX_AGE = timedelta(hours=48)  # a returnee's offline declaration counts for the day it was made
HANDOVER_STATUSES = ("expected", "arrived", "monitoring", "ended_unchecked")
REASON_ACTIONS = ("close", "extend", "lost_contact", "left_province", "referred", "resume", "transfer", "plan")


# Commune officer --------------------------------------------------------------------------------

def _codes() -> set[str]:
    return commune_codes(current_user)


_TRIP = aliased(Declaration, name="trip_declaration")  # built once (see lists._OTHER)


def _arrival(code: str, lock: bool = False) -> Arrival:
    """The newest arrival of declaration `code` in the officer's communes; 404 otherwise, whether
    the code exists elsewhere or not at all (the answer must not tell which codes exist). A later
    trip's code opens the follow-up it was linked into; a follow-up merged into another comes last.

    One query: the scope as a subquery, with what the detail page shows (declaration, passage,
    commune); with `lock`, the arrival's row lock too (ops.lock_arrival then has nothing to do).
    """
    trip = _TRIP
    # Two index lookups in a UNION ALL: `code = x OR id IN (...)` made PostgreSQL scan every arrival.
    first = select(Arrival.id).join(trip, Arrival.declaration_id == trip.id).where(trip.code == code[:16])
    linked = select(ArrivalTrip.arrival_id).join(trip, ArrivalTrip.declaration_id == trip.id).where(trip.code == code[:16])
    stmt = (select(Arrival)
            .where(Arrival.id.in_(union_all(first, linked)),
                   Arrival.commune_code.in_(commune_codes_select(current_user)))
            .options(joinedload(Arrival.declaration), joinedload(Arrival.passage).joinedload(Passage.checkpoint),
                     joinedload(Arrival.commune).joinedload(AdminUnit.parent))
            .order_by(Arrival.status == "merged", Arrival.created_at.desc(), Arrival.id.desc()).limit(1))
    arrival = db.session.scalar(stmt.with_for_update(of=Arrival) if lock else stmt)
    if arrival is None:
        abort(404)
    if lock:
        ops.mark_locked(arrival)
    return arrival


def _list_args(key: str) -> tuple[str, str, int]:
    if key not in lists.KEYS:
        abort(404)
    # The search (a name or a phone) comes only in a POST body, never in a URL (access logs).
    q = request.form.get("q", "")[:60] if request.method == "POST" else ""
    try:
        number = max(1, min(int(request.values.get("trang", "1")), 10_000))
    except ValueError:
        number = 1
    return key, q, number


@offline_page
def home(key: str | None = None, q: str = "", number: int = 1, fragment: str = "followup/_panel.html"):
    """The commune home: list counts, then one list (symptomatic first when there are any)."""
    codes = _codes()
    now = clock.utcnow()
    today = clock.today(now)
    if ops.settle_ended(codes, today):
        db.session.commit()
    counts = lists.counts(codes, today, now)
    key = key or ("symptomatic" if counts["symptomatic"] else "due")
    lst = lists.page(codes, key, today, now, q, number)
    return page_or_fragment("followup/home.html", fragment, counts=counts, lst=lst, today=today,
                            overdue=counts["overdue"], units=areas.units_by_code(codes).values())


@bp.route("/xa/ds/<key>", methods=["GET", "POST"])
@role_required("commune")
def panel(key: str):
    """One list with its tabs and search box (a tab was tapped)."""
    key, q, number = _list_args(key)
    return home(key, q, number)


@bp.route("/xa/ds/<key>/dong", methods=["GET", "POST"])
@role_required("commune")
def rows(key: str):
    """Only the rows and the pager: search and next page."""
    key, q, number = _list_args(key)
    codes = _codes()
    now = clock.utcnow()
    if not request.headers.get("HX-Request"):
        return home(key, q, number)
    lst = lists.page(codes, key, clock.today(now), now, q, number)
    return render_template("followup/_list.html", lst=lst)


def _detail_context(arrival: Arrival, **extra) -> dict:
    today = clock.today()
    decl = arrival.declaration
    last = ops.last_day(arrival)
    # In one query: the earlier follow-ups of this declaration, those merged into this one (their
    # checks are this person's history), and other open follow-ups of the same person in the
    # officer's communes (a duplicate to merge: same person row or same ID number).
    same = [Declaration.person_id == decl.person_id] if decl.person_id is not None else []
    same += [Declaration.id_number == decl.id_number] if (decl.id_number or "").strip() else []
    # Each kind found through its own index in a UNION ALL: the same conditions OR-ed together made
    # PostgreSQL scan every arrival and every declaration.
    kinds = [select(Arrival.id).where(Arrival.declaration_id == arrival.declaration_id,
                                      Arrival.created_at <= arrival.created_at),
             select(Arrival.id).where(Arrival.status == "merged", Arrival.declaration_id.in_(
                 select(ArrivalTrip.declaration_id).where(ArrivalTrip.arrival_id == arrival.id)))]
    if same:
        kinds.append(select(Arrival.id).join(Declaration, Arrival.declaration_id == Declaration.id)
                     .where(Arrival.status.in_(schedule.OPEN), or_(*same),
                            Arrival.commune_code.in_(commune_codes_select(current_user))))
    related = db.session.scalars(
        select(Arrival).where(Arrival.id != arrival.id, Arrival.id.in_(union_all(*kinds)))
        .options(joinedload(Arrival.declaration), joinedload(Arrival.commune))
        .order_by(Arrival.created_at.desc(), Arrival.id.desc())).unique().all()
    duplicates = [a for a in related if a.status in schedule.OPEN and a.declaration_id != arrival.declaration_id
                  and arrival.status in schedule.OPEN and ops.same_person(arrival, a)]
    earlier = [a for a in related if a not in duplicates and (a.status == "merged" or (
        a.declaration_id == arrival.declaration_id and a.created_at <= arrival.created_at))]
    ids = [arrival.id] + [a.id for a in earlier]
    # The checks and the history of this arrival and the earlier ones, each with the names of the
    # people who made them, in one query apiece.
    people = {}
    all_checks = []
    for check, uid, full_name, username in db.session.execute(
            select(HealthCheck, User.id, User.full_name, User.username)
            .outerjoin(User, HealthCheck.user_id == User.id).where(HealthCheck.arrival_id.in_(ids))
            .order_by(HealthCheck.check_date.desc(), HealthCheck.id.desc())):
        all_checks.append(check)
        if uid is not None:
            people[uid] = full_name or username
    checks = [c for c in all_checks if c.arrival_id == arrival.id]
    earlier_checks = [c for c in all_checks if c.arrival_id != arrival.id]
    checked_today = any(c.check_date == today for c in checks)
    progress = schedule.progress(arrival, today, checked_today=checked_today,
                                 last_day_checked=any(c.check_date == last for c in checks))
    events = []
    for event, uid, full_name, username in db.session.execute(
            select(ArrivalEvent, User.id, User.full_name, User.username)
            .outerjoin(User, ArrivalEvent.user_id == User.id).where(ArrivalEvent.arrival_id.in_(ids))
            .order_by(ArrivalEvent.at.desc(), ArrivalEvent.id.desc())):
        events.append(event)
        if uid is not None:
            people[uid] = full_name or username
    passage = arrival.passage
    trips = persons.trips(arrival)
    return {"arrival": arrival, "decl": decl, "trips": trips if len(trips) > 1 else [], "progress": progress, "checks": checks, "events": events,
            "earlier": earlier, "duplicates": duplicates, "earlier_checks": earlier_checks, "people": people, "passage": passage,
            "today": today, "checked_today": checked_today, "commune": areas.label(arrival.commune),
            "units": {u.code: u.name for u in areas.units_by_code(
                [e.data.get("to") for e in events if e.data] + [e.data.get("from") for e in events if e.data]
                + [a.commune_code for a in earlier] + [decl.origin_province_code, arrival.commune_code]
                + [t["decl"].origin_province_code for t in trips] + [t["decl"].dest_commune_code for t in trips]).values()},
            "symptom_choices": forms.SYMPTOM_CHOICES, "sources": forms.OFFICER_SOURCES,
            "symptom_labels": SYMPTOM_LABELS, "sexes": dict(SEX_CHOICES), "vehicles": VEHICLE_LABELS,
            "is_red": schedule.is_red, "values": MultiDict(), "error": None, "error_form": None,
            "error_field": None, "done": None} | extra


@bp.get("/xa/nguoi-den/<code>")
@role_required("commune")
@offline_page
def detail(code: str):
    """One person: plan, day X of N, confirmation, daily check, outcomes and history."""
    arrival = _arrival(code)
    return page_or_fragment("followup/detail.html", "followup/_detail.html", **_detail_context(arrival))


@bp.post("/xa/nguoi-den/<code>/duong-dan")
@role_required("commune")
def handover(code: str):
    """The hand-over sheet of the person's status link (SMS, share sheet, QR); audited."""
    arrival = _arrival(code)
    if arrival.declaration.deidentified_at is not None or arrival.status not in HANDOVER_STATUSES:
        refused = _("The follow-up of this person has ended.")
        return _reason_header(current_app.make_response((page_or_fragment(
            "followup/handover.html", "followup/_handover.html", arrival=arrival, decl=arrival.declaration,
            refused=refused), 422)), refused)
    sheet = handover_ops.hand_over(arrival, current_user, commune=arrival.commune.name if arrival.commune else "")
    db.session.commit()
    return page_or_fragment("followup/handover.html", "followup/_handover.html", arrival=arrival,
                            decl=arrival.declaration, **sheet)


def _after(arrival: Arrival, form_name: str, action, done: str):
    """Run `action`; commit and show the page again, or show the error with nothing written (422)."""
    try:
        result = action()
    except ops.FollowupError as err:
        db.session.rollback()
        response = current_app.make_response((page_or_fragment(
            "followup/detail.html", "followup/_detail.html", **_detail_context(
                arrival, error=err.message, error_field=err.field, error_form=form_name, values=request.form)),
            422))
        return _reason_header(response, err.message)
    if callable(done):
        done = done(result)
    # Rendered before the commit, which would expire everything loaded (all read again).
    page = page_or_fragment("followup/detail.html", "followup/_detail.html", **_detail_context(arrival, done=done))
    db.session.commit()
    return page


@bp.post("/xa/nguoi-den/<code>/xac-nhan")
@role_required("commune")
def confirm(code: str):
    """The officer confirms the arrival (visit, phone, self-reported). Idempotent."""
    arrival = _arrival(code)
    return _after(arrival, "confirm", lambda: ops.confirm_arrival(
        arrival, request.form.get("how", ""), user=current_user, at=forms.client_ts(request.form)),
        lambda created: _("Arrival confirmed.") if created else _("The arrival was already confirmed."))


@bp.post("/xa/nguoi-den/<code>/kiem-tra")
@role_required("commune")
def check(code: str):
    """A daily health check by the officer. Replays of the same client UUID store it once."""
    arrival = _arrival(code, lock=True)
    return _after(arrival, "check", lambda: ops.record_check(
        arrival, forms.check_input(request.form), client_uuid=_client_uuid(), user=current_user,
        client_ts=forms.client_ts(request.form)),
        lambda result: _("Health check recorded.") if result[1] else _("This check was already recorded."))


def _client_uuid() -> str | None:
    return request.form.get("client_uuid") or request.headers.get("Idempotency-Key")


@bp.post("/xa/nguoi-den/<code>/<action>")
@role_required("commune")
def change(code: str, action: str):
    """Plan change, close, extend, lost contact, left the province, referral, resume, transfer."""
    if action not in REASON_ACTIONS:
        abort(404)
    arrival = _arrival(code)
    form = request.form
    reason = form.get("reason", "")

    def run():
        if action == "plan":
            return ops.change_plan(arrival, measure=form.get("measure", ""),
                                   days=forms.integer(form, "days", 0), after_days=forms.integer(form, "after_days", 0),
                                   test_days=forms.day_list(form, "test_days"), reason=reason, user=current_user)
        if action == "close":
            return ops.close(arrival, reason, user=current_user)
        if action == "extend":
            return ops.extend(arrival, forms.integer(form, "days"), reason, user=current_user)
        if action == "resume":
            return ops.resume(arrival, reason, user=current_user)
        if action == "transfer":
            return ops.transfer(arrival, form.get("to", ""), reason, user=current_user)
        return ops.set_outcome(arrival, action, user=current_user, reason=reason, facility=form.get("facility", ""))

    done = {"plan": _("Plan changed."), "close": _("Monitoring closed."), "extend": _("Monitoring extended."),
            "resume": _("Follow-up resumed."), "transfer": _("Transferred."), "lost_contact": _("Saved."),
            "left_province": _("Saved."), "referred": _("Saved.")}[action]
    return _after(arrival, action, run, done)


@bp.post("/xa/nguoi-den/<code>/gop")
@role_required("commune")
def merge(code: str):
    """One tap: the person's two open follow-ups become one (the later folded into the earlier).
    Both must be in the officer's communes (403 otherwise). Replays say it was already done."""
    arrival = _arrival(code)
    try:
        other_id = int(request.form.get("other", ""))
    except ValueError:
        abort(400)
    other = db.session.get(Arrival, other_id)
    if other is None:
        abort(404)
    if other.commune_code not in _codes():
        abort(403)
    result = {}

    def run():
        result["merged"] = ops.merge(arrival, other, user=current_user)
        return result["merged"]

    kept = arrival if (arrival.created_at, arrival.id) <= (other.created_at, other.id) else other
    done = lambda merged: (_("The two follow-ups of this person are now one.") if merged  # noqa: E731
                           else _("These follow-ups were already merged."))
    return _after(kept, "merge", run, done)


@bp.route("/xa/tram", methods=["GET", "POST"])
@role_required("commune")
def station():
    """The commune health station's phone (shown to returnees) and position (to judge "near")."""
    codes = sorted(_codes())
    code = request.values.get("commune") or (codes[0] if codes else "")
    if code not in codes:
        abort(403)
    error, status, saved = None, 200, False
    if request.method == "POST":
        try:
            lat, lon = forms.coordinate(request.form, "lat"), forms.coordinate(request.form, "lon")
            if request.form.get("clear_position"):
                lat = lon = None
            elif lat is None:
                current = ops.station(code)
                lat, lon = current.lat, current.lon
            ops.set_station(code, phone=request.form.get("phone", ""), lat=lat, lon=lon, user=current_user)
        except ops.FollowupError as err:
            db.session.rollback()
            error, status = err.message, 422
        else:
            db.session.commit()
            saved = True
    units = areas.units_by_code(codes)
    return page_or_fragment("followup/station.html", "followup/_station.html", units=units, code=code,
                            station=ops.station(code), error=error, saved=saved), status


@bp.cli.command("settle")
def settle_command():
    """Apply the end-of-monitoring rule to every commune (run daily just after midnight)."""
    import click

    codes = set(db.session.scalars(select(Arrival.commune_code).distinct()))
    changed = ops.settle_ended(codes)
    db.session.commit()
    click.echo(f"End rule applied: {changed} arrival(s) changed.")


# Returnee, from the personal status link --------------------------------------------------------

def latest_arrival(decl: Declaration) -> Arrival | None:
    return db.session.scalar(persons.shown_arrival(decl.id))


def returnee_context(arrival: Arrival | None, *, today=None, message: str | None = None,
                     error: str | None = None, station: "ops.Station | None" = None,
                     hotline: str | None = None) -> dict:
    """What the returnee's panel shows: the plan, today's task, days left, the station's phone.
    `station` and `hotline` when the caller has read them already (the status answer)."""
    if arrival is None:
        return {"arrival": None, "message": message, "error": error}
    today = today or clock.today()
    last = ops.last_day(arrival)
    # Today's check and whether the last day has one, in one query.
    checks = db.session.scalars(select(HealthCheck).where(
        HealthCheck.arrival_id == arrival.id, HealthCheck.check_date.in_([d for d in (today, last) if d]))
        .order_by(HealthCheck.id.desc())).all()
    today_check = next((c for c in checks if c.check_date == today), None)
    progress = schedule.progress(arrival, today, checked_today=today_check is not None,
                                 last_day_checked=any(c.check_date == last for c in checks))
    station = station if station is not None else ops.station(arrival.commune_code)
    return {"arrival": arrival, "progress": progress, "today_check": today_check,
            "station_phone": station.phone, "hotline": hotline if hotline is not None else settings.get("hotline"),
            "symptom_choices": forms.SYMPTOM_CHOICES, "message": message, "error": error,
            "commune": arrival.commune.name if arrival.commune else ""}


def _returnee(decl, arrival, token: str, status: int = 200, **kwargs):
    """The whole status fragment again (timeline, next step, this panel with `message` or `error`),
    so everything on the returnee's page moves on together; only the refusal when the link is bad."""
    from ..traveller.views import status_context

    context = returnee_context(arrival, **kwargs)
    if decl is None:
        body = page_or_fragment("followup/returnee.html", "followup/_returnee_refused.html", returnee=context)
    else:
        body = page_or_fragment("traveller/status.html", "traveller/_status.html",
                                **status_context(decl, token, returnee=context))
    return _reason_header(current_app.make_response((body, status)), context.get("error"))


def _reason_header(response, reason):
    """Why a write was refused, for the outbox's list of refused items (percent-encoded UTF-8)."""
    if reason and response.status_code >= 400:
        response.headers["X-Outbox-Reason"] = quote(str(reason))
    return response


def _returnee_arrival(token: str):
    """(declaration, arrival, None) for a link that still works, else (.., .., the refusal to send)."""
    try:
        decl = declarations.declaration_for_token(token, check_expiry=False)
    except tokens.TokenError:
        return None, None, _returnee(None, None, token, 422, error=_(
            "The personal link is damaged or was not issued by this system."))
    arrival = latest_arrival(decl)
    if link_expired(decl, arrival, now=clock.utcnow(), grace_days=settings.get_int("status_grace_days")):
        return None, None, _returnee(None, None, token, 422, error=_("This trip's monitoring is over."))
    if arrival is None:
        return None, None, _returnee(decl, None, token, 422, error=_(
            "Your commune has not received your arrival yet. Pass a checkpoint first, or call the hotline."))
    return decl, arrival, None


def _returnee_rate() -> str:
    return current_app.config["KIEMDICH_RETURNEE_RATE"]


@bp.post("/q/den-noi")
@csrf.exempt  # the signed personal token is the credential; replays from the outbox carry no session
@limiter.limit(_returnee_rate)
def self_arrival():
    """"Tôi đã đến nơi": one tap; an optional position is reduced to near-the-commune yes/no."""
    token = request.form.get("token", "")
    decl, arrival, refusal = _returnee_arrival(token)
    if refusal:
        return refusal
    near = ops.near_commune(arrival.commune_code, forms.coordinate(request.form, "lat"),
                            forms.coordinate(request.form, "lon"))
    created = ops.confirm_arrival(arrival, "self", at=forms.client_ts(request.form), near=near)
    db.session.commit()
    return _returnee(decl, arrival, token, message=_("Thank you. The health station knows you have arrived.")
                     if created else _("Your arrival was already recorded."))


@bp.post("/q/suc-khoe")
@csrf.exempt  # as above
@limiter.limit(_returnee_rate)
def self_check():
    """The returnee's daily self-declaration: symptom flags and temperature."""
    token = request.form.get("token", "")
    decl, arrival, refusal = _returnee_arrival(token)
    if refusal:
        return refusal
    try:
        _check, created = ops.record_check(
            arrival, forms.check_input(request.form, source="self"), client_uuid=_client_uuid(),
            client_ts=forms.client_ts(request.form), max_age=SELF_MAX_AGE)
    except ops.FollowupError as err:
        db.session.rollback()
        return _returnee(decl, arrival, token, 422, error=err.message)
    db.session.commit()
    return _returnee(decl, arrival, token, message=_("Thank you, your health declaration for today is recorded.")
                     if created else _("This declaration was already recorded."))


@bp.app_template_global()
def returnee_panel(arrival):
    """For the traveller's status page: `{% include "followup/_returnee.html" %}` reads this."""
    return returnee_context(arrival)


from . import day  # noqa: E402,F401  the day sheet's route, on this blueprint
