"""The traveller's status page: the personal link (/q#token) and a lookup by code and birth year."""
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from .. import clock, persons, settings, tokens
from ..areas import operations as areas
from ..codes import clean_code
from ..declarations import operations as declarations
from ..declarations.views import slip_context
from ..extensions import csrf, db, limiter
from ..limits import client_address, config_rate, per_device
from ..models import Arrival, Declaration
from ..text import form_int
from ..web import page_or_fragment
from .status import link_expired, timeline

bp = Blueprint("traveller", __name__)


def _latest_arrival(decl: Declaration) -> Arrival | None:
    return db.session.scalar(select(Arrival).where(persons.follows(decl.id))
                             .order_by(Arrival.created_at.desc(), Arrival.id.desc()).limit(1))


def status_context(decl: Declaration, token: str | None = None) -> dict:
    """Everything the status fragment shows; `ended` alone once the link has expired."""
    now = clock.utcnow()
    arrival = _latest_arrival(decl)
    if link_expired(decl, arrival, now=now, grace_days=settings.get_int("status_grace_days")):
        return {"ended": True}
    status = timeline(decl, decl.passages, arrival, now=now, today=clock.today(now))
    commune = arrival.commune if arrival else decl.dest_commune
    return slip_context(decl, token) | {
        "ended": False, "status": status, "arrival": arrival, "commune": areas.label(commune),
        "show_qr": status.valid_for_passage and status.next_action in ("show_qr", "wait_staff"),
        "hotline": settings.get("hotline")}


@bp.get("/q")
def personal():
    """The personal link's page; the script reads the token from the fragment and asks for the status."""
    return render_template("traveller/personal.html")


@bp.post("/q/trang-thai")
@csrf.exempt  # reads only; the signed token is the credential
@limiter.limit(config_rate("KIEMDICH_STATUS_RATE"), key_func=per_device)
@limiter.limit(config_rate("KIEMDICH_STATUS_ADDRESS_RATE"), key_func=client_address)
def status():
    """The status fragment for a signed token (the token is sent in the body, never in a URL)."""
    token = request.form.get("token", "")
    try:
        decl = declarations.declaration_for_token(token, check_expiry=False)
    except tokens.TokenError:
        return page_or_fragment("traveller/status.html", "traveller/_invalid.html", invalid=True), 422
    context = status_context(decl, token)
    return page_or_fragment("traveller/status.html", "traveller/_status.html", **context)


@bp.route("/tra-cuu", methods=["GET", "POST"])
@limiter.limit(config_rate("KIEMDICH_LOOKUP_RATE"), key_func=per_device, methods=["POST"])
@limiter.limit(config_rate("KIEMDICH_LOOKUP_ADDRESS_RATE"), key_func=client_address, methods=["POST"])
def lookup():
    """Find one's declaration by its code and the year of birth. The same answer for an unknown
    code and a wrong year, and a rate limit, so codes cannot be walked through."""
    code = clean_code(request.form.get("code", ""))[:16]
    year = (request.form.get("birth_year") or "").strip()
    if request.method == "GET":
        return render_template("traveller/lookup.html", code="", year="", error=None)
    decl = None
    if code and form_int(year) is not None:
        decl = db.session.scalar(select(Declaration).where(Declaration.code == code))
        if decl is not None and (decl.birth_year != form_int(year) or decl.deidentified_at is not None):
            decl = None
    if decl is None:
        error = _("No declaration matches this code and year of birth. Check the code on your slip.")
        return page_or_fragment("traveller/lookup.html", "traveller/_lookup_form.html",
                                code=code, year=year, error=error), 422
    return page_or_fragment("traveller/status.html", "traveller/_status.html", remember=True,
                            **status_context(decl))
