"""The public declaration form (/khai-bao, /c/<checkpoint code>), self check-in, and the public key."""

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import clock, qrcodes, tokens
from ..accounts.auth import role_required
from ..areas import operations as areas
from ..extensions import db, htmx, limiter
from ..limits import client_address, config_rate, per_device, per_device_or_form
from ..scan import idcard
from ..web import page_or_fragment
from . import operations as ops
from . import prefill
from .forms import SYMPTOM_LABELS, VEHICLE_LABELS, DeclarationForm

bp = Blueprint("declarations", __name__)
PICKERS = ("contact", "origin", "dest")


def _staff():
    """A checkpoint staff member declaring on behalf of a traveller (khai hộ), else None."""
    if current_user.is_authenticated and current_user.role == "checkpoint":
        return current_user
    return None


def _is_staff() -> bool:
    return _staff() is not None


# Per device (a crowd behind one carrier address is many devices) and per address (a ceiling).
_limit_per_device = limiter.limit(config_rate("KIEMDICH_DECLARATION_RATE"), key_func=per_device_or_form,
                                  methods=["POST"], exempt_when=_is_staff)
_limit_per_address = limiter.limit(config_rate("KIEMDICH_DECLARATION_ADDRESS_RATE"), key_func=client_address,
                                   methods=["POST"], exempt_when=_is_staff)


def _pickers(form: DeclarationForm, trim: bool) -> dict:
    """For each cascading picker: its province and the communes to list.

    When the form comes back with errors (`trim`), a picker whose commune was accepted lists
    only that commune: the answer stays within the 5 KB fragment budget, and another commune
    is one search away in the field above it.
    """
    result = {}
    for name in PICKERS:
        province = getattr(form, f"{name}_province").data or ""
        commune = getattr(form, name).data
        if trim and name in form.units:
            communes = [form.units[name]]
        else:
            communes = areas.commune_choices(province) if province else []
        result[name] = {"province": province, "selected": [commune] if commune else [], "communes": communes}
    return result


def _render_form(form, checkpoint, notice, status=200, stale=False, action=None, card=None):
    context = {"form": form, "checkpoint": checkpoint, "notice": notice, "staff": _staff(),
               "provinces": areas.province_choices(), "pickers": _pickers(form, trim=status != 200), "stale": stale,
               "symptom_labels": SYMPTOM_LABELS, "action": action or request.path, "as_fragment": bool(htmx),
               "card": card}
    return page_or_fragment("declarations/form.html", "declarations/_form.html", **context), status


def slip_context(decl, token: str | None = None) -> dict:
    """What the personal QR slip shows: the QR of a freshly signed token and the trip's summary."""
    token = token or ops.token_for(decl)
    url = qrcodes.personal_url(token)
    # Drawn once per token; the PNG only when downloaded (traveller.qr_png).
    return {"decl": decl, "token": token, "url": url, "qr": qrcodes.cached_svg(url, decl.full_name),
            "dest": areas.label(decl.dest_commune), "vehicle": VEHICLE_LABELS.get(decl.vehicle_type, ""),
            "vaccination": ops.vaccination_of(decl)}


def _done(decl, created: bool, staff):
    context = slip_context(decl) | {"created": created, "staff": staff}
    response = current_app.make_response(
        page_or_fragment("declarations/done.html", "declarations/_done.html", **context))
    if request.headers.get("HX-Request"):
        # The form asked to replace itself; the result replaces the whole page body instead.
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML show:window:top"
        if staff is None:
            # The address becomes the traveller's own link, so a reload, a shared link or "add to
            # home screen" opens the QR again instead of an empty form. The token stays in the
            # fragment: it never reaches a server log.
            response.headers["HX-Push-Url"] = f"{url_for('traveller.personal')}#{context['token']}"
    return response


# A traveller's blank form is the same for everyone at one checkpoint, in one language, on one day
# (47 fields, three province lists, many translations: tens of ms of Jinja); only the CSRF token and
# the form's one-time key differ. It is rendered once per key below with those two values replaced
# by marks, and each GET puts fresh ones in. Per process and app, bounded; signed-in users are
# never served from it (their page shows who they are).
_BLANK_MAX = 256
_CSRF_MARK, _NONCE_MARK = "kd-blank-csrf-mark", "kd-blank-nonce-mark"


def _blank_key(checkpoint, notice, today):
    if current_user.is_authenticated or session.get("_flashes"):
        return None
    from flask_babel import get_locale

    place = (checkpoint.id, checkpoint.code, checkpoint.name) if checkpoint else None
    return (str(get_locale()), place, notice.version, today, bool(htmx), request.path,
            current_app.config["KIEMDICH_PROVINCE"])


def _blank_form(checkpoint, notice, today):
    """A blank form: from the per-process cache when the key allows it, else rendered."""
    key = _blank_key(checkpoint, notice, today)
    cache = current_app.extensions.setdefault("kiemdich.blank_forms", {})
    html = cache.get(key) if key else None
    if html is None:
        form = DeclarationForm(today=today, latest_notice=notice.version, staff=_staff() is not None)
        _start(form, notice, today)
        html, status = _render_form(form, checkpoint, notice)
        if key is None:
            return html, status
        if len(cache) >= _BLANK_MAX:
            cache.clear()
        cache[key] = html = html.replace(generate_csrf(), _CSRF_MARK).replace(form.nonce.data, _NONCE_MARK)
    return html.replace(_CSRF_MARK, generate_csrf()).replace(_NONCE_MARK, ops.new_nonce()), 200


def _declare(checkpoint):
    notice = ops.latest_notice()
    staff = _staff()
    today = clock.today()
    if request.method == "GET":
        return _blank_form(checkpoint, notice, today)
    form = DeclarationForm(today=today, latest_notice=notice.version, staff=staff is not None)
    if not form.validate():
        return _render_form(form, checkpoint, notice, 422)
    try:
        decl, created = ops.create_declaration(form.values(), nonce=form.nonce_value(),
                                               checkpoint=checkpoint, staff=staff)
    except ops.StaleForm:
        db.session.rollback()
        form.nonce.data = ops.new_nonce()
        return _render_form(form, checkpoint, notice, 422, stale=True)
    # Rendered before the commit, which would expire the declaration and its places (re-read).
    response = _done(decl, created, staff)
    db.session.commit()
    return response


def _start(form, notice, today, prefill: dict | None = None):
    """A blank form's starting values (and a card's, for an assisted declaration)."""
    form.nonce.data = ops.new_nonce()
    form.consent_version.data = notice.version
    form.travel_date.data = today
    form.dest_province.data = current_app.config["KIEMDICH_PROVINCE"]
    for name, value in (prefill or {}).items():
        getattr(form, name).data = value


@bp.post("/c/<code>/khai-ho")
@role_required("checkpoint")
def assisted(code: str):
    """The assisted declaration (khai hộ) prefilled from an ID card's QR read at the scan screen.
    POST: the card's number and address never go into a URL. Writes nothing; the form it shows
    is sent to the checkpoint's address like any other."""
    checkpoint, state = _checkpoint_or_gone(code)
    if state != "ok":
        return render_template("declarations/gone.html", checkpoint=checkpoint, state=state), 410
    notice = ops.latest_notice()
    today = clock.today()
    card = idcard.parse(request.form.get("card"), today)
    form = DeclarationForm(formdata=None, today=today, latest_notice=notice.version, staff=True)
    _start(form, notice, today, prefill.from_card(card) if card else None)
    return _render_form(form, checkpoint, notice, 200 if card else 422,
                        action=url_for(".at_checkpoint", code=checkpoint.code), card=card or "unreadable")


@bp.route("/khai-bao", methods=["GET", "POST"])
@_limit_per_device
@_limit_per_address
def declare():
    """Declare a trip without a checkpoint (before leaving, or from a link)."""
    return _declare(None)


def _checkpoint_or_gone(code: str):
    checkpoint, state = ops.find_checkpoint(code)
    if state == "unknown":
        abort(404)
    return checkpoint, state


@bp.route("/c/<code>", methods=["GET", "POST"])
@_limit_per_device
@_limit_per_address
def at_checkpoint(code: str):
    """The poster's address: the form with the checkpoint filled in, and self check-in."""
    checkpoint, state = _checkpoint_or_gone(code)
    if state != "ok":
        return render_template("declarations/gone.html", checkpoint=checkpoint, state=state), 410
    if code != checkpoint.code and request.method == "GET":
        return redirect(url_for(".at_checkpoint", code=checkpoint.code))
    return _declare(checkpoint)


@bp.post("/c/<code>/co-mat")
@limiter.limit(config_rate("KIEMDICH_CHECKIN_RATE"), key_func=per_device)
@limiter.limit(config_rate("KIEMDICH_CHECKIN_ADDRESS_RATE"), key_func=client_address)
def checkin(code: str):
    """"Tôi đang ở chốt này": a passage awaiting staff confirmation."""
    checkpoint, state = _checkpoint_or_gone(code)
    if state != "ok":
        return render_template("declarations/_checkin_result.html", error=state, checkpoint=checkpoint), 410
    try:
        passage, created = ops.self_checkin(request.form.get("token", ""), checkpoint,
                                            client_uuid=request.form.get("client_uuid"))
    except tokens.TokenError as err:
        db.session.rollback()
        return render_template("declarations/_checkin_result.html", error=err.reason, checkpoint=checkpoint), 422
    db.session.commit()
    return render_template("declarations/_checkin_result.html", passage=passage, created=created,
                           checkpoint=checkpoint, error=None)


@bp.get("/khoa-cong-khai.json")
def public_key():
    """The public keys of the personal QR (a JWK set: the signing key, a prepared next one, retired
    ones still needed), for verifying offline in the browser."""
    jwks = tokens.public_jwks()
    response = jsonify(jwks)
    # Short: after a key rotation the service worker's background refresh must reach the server.
    response.headers["Cache-Control"] = "public, max-age=300"
    response.set_etag(".".join(k["kid"] for k in jwks["keys"]))
    return response.make_conditional(request)
