"""The traveller's status page: the personal link (/q#token) and a lookup by code and birth year."""
from functools import cache

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, raiseload

from .. import clock, persons, qrcodes, settings, tokens
from ..areas import operations as areas
from ..codes import clean_code
from ..declarations import operations as declarations
from ..declarations.forms import VEHICLE_LABELS
from ..declarations.views import slip_context
from ..followup.operations import STATION_KEY, station_from
from ..followup.views import returnee_context
from ..extensions import csrf, db, limiter
from ..limits import client_address, config_rate, per_device
from ..models import AdminUnit, Arrival, Declaration, Passage
from ..text import form_int
from ..web import page_or_fragment
from .status import link_expired, timeline

bp = Blueprint("traveller", __name__)


# The status answer's two statements are built once (the most frequent request: building a
# statement with its joined loads costs about as much as sending it).

@cache
def _latest_arrival_statement():
    return (persons.shown_arrival(bindparam("decl_id"))
            .options(joinedload(Arrival.commune).joinedload(AdminUnit.parent), raiseload("*", sql_only=True)))


@cache
def _declaration_statement():
    return select(Declaration).where(Declaration.token_id == bindparam("token_id")).options(
        joinedload(Declaration.passages).joinedload(Passage.checkpoint),
        joinedload(Declaration.dest_commune).joinedload(AdminUnit.parent),
        raiseload("*", sql_only=True))


def _latest_arrival(decl: Declaration) -> Arrival | None:
    return db.session.scalar(_latest_arrival_statement(), {"decl_id": decl.id})


def _declaration(token: str) -> Declaration:
    """The declaration a token names (signature checked, not its expiry), with what the status
    answer shows (passages, destination and its province) in the same query; TokenError otherwise."""
    data = tokens.verify(token, check_expiry=False)
    decl = db.session.scalars(_declaration_statement(), {"token_id": data.token_id}).unique().one_or_none()
    if decl is None:
        raise tokens.TokenError("unknown")
    return decl


def status_context(decl: Declaration, token: str | None = None, returnee: dict | None = None) -> dict:
    """Everything the status fragment shows; `ended` alone once the link has expired."""
    now = clock.utcnow()
    arrival = _latest_arrival(decl)
    # The settings, and the health station's, in one query.
    station_key = STATION_KEY.format(arrival.commune_code) if arrival else ""
    found = settings.rows("status_grace_days", "hotline", station_key)
    values = settings.get_many("status_grace_days", "hotline", found=found)
    if link_expired(decl, arrival, now=now, grace_days=settings.as_int("status_grace_days", values["status_grace_days"])):
        return {"ended": True}
    status = timeline(decl, decl.passages, arrival, now=now, today=clock.today(now))
    commune = arrival.commune if arrival else decl.dest_commune
    return _slip(decl, token) | {
        "ended": False, "status": status, "arrival": arrival, "commune": areas.label(commune),
        "show_qr": status.valid_for_passage and status.next_action in ("show_qr", "wait_staff"),
        "hotline": values["hotline"],
        "returnee": returnee if returnee is not None else returnee_context(
            arrival, station=station_from(found.get(station_key)), hotline=values["hotline"])}


def _slip(decl: Declaration, token: str | None) -> dict:
    """The slip of the status answer: the QR drawn once per token (the traveller's phone asks
    again and again with the same one); the PNG is only made when downloaded (qr_png)."""
    if not token:
        return slip_context(decl)
    url = qrcodes.personal_url(token)
    return {"decl": decl, "token": token, "url": url, "qr": qrcodes.cached_svg(url, decl.full_name),
            "dest": areas.label(decl.dest_commune), "vehicle": VEHICLE_LABELS.get(decl.vehicle_type, ""),
            "vaccination": declarations.vaccination_of(decl)}


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
        decl = _declaration(token)
    except tokens.TokenError:
        return page_or_fragment("traveller/status.html", "traveller/_invalid.html", invalid=True), 422
    context = status_context(decl, token)
    return page_or_fragment("traveller/status.html", "traveller/_status.html", **context)


@bp.post("/q/anh-qr")
@csrf.exempt  # reads only; the signed token is the credential
@limiter.limit("30 per minute")
def qr_png():
    """The personal QR as a PNG file ("Save QR image"): drawn only when asked for, from the QR
    already encoded for the page. The token comes in the body, never in a URL."""
    token = request.form.get("token", "")
    try:
        decl = declarations.declaration_for_token(token, check_expiry=False)
    except tokens.TokenError:
        return page_or_fragment("traveller/status.html", "traveller/_invalid.html", invalid=True), 422
    if decl.deidentified_at is not None:
        return page_or_fragment("traveller/status.html", "traveller/_invalid.html", invalid=True), 422
    png = qrcodes.png_bytes(qrcodes.cached(qrcodes.personal_url(token)), min_pixels=480, dpi=150)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["Content-Disposition"] = f'attachment; filename="ma-qr-{decl.code}.png"'
    response.headers["Cache-Control"] = "no-store"
    return response


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
