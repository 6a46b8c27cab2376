"""Checkpoint staff: the scan screen, the verdict card, the passage write and today's list."""
import hashlib
import json
from datetime import datetime, timezone
from urllib.parse import quote

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import clock
from ..accounts.auth import role_required
from ..areas import operations as areas
from ..declarations.forms import SYMPTOM_LABELS, VEHICLE_LABELS
from ..extensions import db, limiter
from ..models import Checkpoint
from ..offline.views import offline_page
from ..text import form_int
from ..web import page_or_fragment
from . import idcard
from . import operations as ops
from .rulesdata import offline_rules

bp = Blueprint("scan", __name__)
PER_PAGE = 20


def _my_checkpoints() -> list[Checkpoint]:
    return list(db.session.scalars(select(Checkpoint).where(
        Checkpoint.id.in_(current_user.checkpoint_ids or [-1]), Checkpoint.active).order_by(Checkpoint.name)))


def _scoped_checkpoint(code: str | None) -> Checkpoint:
    """The checkpoint a form names; PassageError 403 when outside the user's scope (or inactive)."""
    cp, allowed = ops.scoped_checkpoint(code, current_user)
    if cp is None:
        raise ops.PassageError(_("Unknown checkpoint. Reload the scan page."), status=404)
    if not cp.active or not allowed:
        raise ops.PassageError(_("You are not assigned to this checkpoint."), status=403)
    return cp


def _checkpoint(code: str | None) -> Checkpoint:
    try:
        return _scoped_checkpoint(code)
    except ops.PassageError as err:
        abort(err.status)


def _chosen(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    code = (request.args.get("chot") or "").upper()
    return next((c for c in checkpoints if c.code == code), checkpoints[0] if checkpoints else None)


def _client_ts(raw: str | None) -> datetime | None:
    """The device's time of the action (ISO 8601, as the outbox sends it); None if unreadable."""
    try:
        moment = datetime.fromisoformat((raw or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None


def _labels() -> dict:
    return {"symptom_labels": SYMPTOM_LABELS, "vehicle_labels": VEHICLE_LABELS}


@bp.get("/chot/quet")
@role_required("checkpoint")
@offline_page
def scan_page():
    """The scan screen: camera, manual code or handheld scanner, lookup; works offline."""
    checkpoints = _my_checkpoints()
    checkpoint = _chosen(checkpoints)
    return render_template("scan/scan.html", checkpoints=checkpoints, checkpoint=checkpoint,
                           instructions=ops.instructions(), **_labels())


@bp.post("/chot/quet/xem")
@role_required("checkpoint")
def verdict():
    """The verdict card for a scanned token or a declaration code (online; red when refused)."""
    checkpoint = _checkpoint(request.form.get("chot"))
    token = (request.form.get("token") or "").strip()
    now = clock.utcnow()
    try:
        decl = ops.resolve(token=token, code=request.form.get("code", ""), at=now)
    except ops.PassageError as err:
        return render_template("scan/_refusal.html", message=err.message, reason=err.reason), 422
    return _verdict_card(decl, checkpoint, token, now)


def _verdict_card(decl, checkpoint: Checkpoint, token: str, now: datetime) -> str:
    return render_template("scan/_verdict.html", checkpoint=checkpoint, token=token, now=now,
                           instructions=ops.instructions(), dest=areas.label(decl.dest_commune),
                           origin=_origin_label(decl), **ops.verdict(decl, checkpoint, now), **_labels())


def _origin_label(decl) -> str:
    units = areas.units_by_code([decl.origin_commune_code, decl.origin_province_code])
    commune = units.get(decl.origin_commune_code)
    return areas.label(commune) if commune else getattr(units.get(decl.origin_province_code), "name", "")


@bp.post("/chot/quet/tim")
@role_required("checkpoint")
def lookup():
    """Declarations still valid for passage, by phone, ID number or code (online only).
    POST only: a phone or ID number in a URL would land in access logs and the history.
    With `card` (a CCCD or PC-Covid QR read by the scan screen): that person's valid declaration's
    verdict card, else a card offering the assisted declaration prefilled from it. Writes nothing."""
    checkpoint = _checkpoint(request.form.get("chot"))
    if "card" in request.form:
        return _card_lookup(request.form["card"], checkpoint)
    query = request.form.get("q", "")[:40]
    found = ops.find_declarations(query, clock.utcnow())
    return render_template("scan/_lookup.html", found=found, query=query, checkpoint=checkpoint,
                           dests=areas.units_by_code(d.dest_commune_code for d in found))


def _card_lookup(text: str, checkpoint: Checkpoint):
    now = clock.utcnow()
    card = idcard.parse(text, clock.today(now))
    if card is None:
        return render_template("scan/_refusal.html", message=_("This ID card's QR code cannot be read. "
                                                               "Type the ID number in the search below."),
                               reason="card"), 422
    found = ops.find_by_card(card, now)
    if found:
        return _verdict_card(found[0], checkpoint, "", now)
    return render_template("scan/_card.html", card=card, text=text, checkpoint=checkpoint)


@bp.post("/chot/qua-chot")
@role_required("checkpoint")
def passage():
    """Record a decision. Idempotent on the Idempotency-Key header (or the client_uuid field)."""
    form = request.form
    now = clock.utcnow()
    client_ts = _client_ts(form.get("client_ts"))
    try:
        checkpoint = _scoped_checkpoint(form.get("chot"))
        client_uuid = ops.clean_uuid(request.headers.get("Idempotency-Key") or form.get("client_uuid"))
        decl, seen = ops.resolve_for_passage(token=(form.get("token") or "").strip(), code=form.get("code", ""),
                                             at=ops.moment(client_ts, now), checkpoint=checkpoint,
                                             client_uuid=client_uuid)
        instruction = form.get("instruction", "").strip()
        values = ops.PassageInput(
            decision=form.get("decision", ""), test_taken=form.get("test_taken") or "none",
            papers_checked=form.get("papers_checked") in ("1", "on", "y"),
            instruction_code=form_int(instruction),
            override_reason=form.get("override_reason", ""), note=form.get("note", ""),
            allow_reason=form.get("allow_reason", ""), shown=form.get("shown", "").strip()[:20])
        checkin = form.get("checkin", "").strip()
        passage, status = ops.record_passage(
            user=current_user, checkpoint=checkpoint, decl=decl, values=values,
            client_uuid=client_uuid, client_ts=client_ts, checkin_id=form_int(checkin), now=now, seen=seen)
    except ops.PassageError as err:
        db.session.rollback()
        response = current_app.make_response(
            (render_template("scan/_passage_refused.html", message=err.message), err.status))
        response.headers["X-Outbox-Reason"] = quote(str(err.message))
        return response
    # Rendered before the commit, which expires every loaded row: after it the answer would read
    # the user, the passage and the declaration again (three more round trips).
    response = current_app.make_response((page_or_fragment(
        "scan/passage.html", "scan/_passage_result.html", passage=passage, status=status,
        checkpoint=checkpoint), 201 if status == "created" else 200))
    db.session.commit()
    response.headers["X-Outbox-Status"] = status
    return response


@bp.get("/chot/hom-nay")
@role_required("checkpoint")
def today():
    """Today's decisions at the user's checkpoints and the self check-ins waiting, paginated."""
    checkpoints = _my_checkpoints()
    ids = [c.id for c in checkpoints]
    chosen = (request.args.get("chot") or "").upper()
    if chosen:
        ids = [c.id for c in checkpoints if c.code == chosen] or [-1]
    page = min(max(request.args.get("trang", 1, type=int) or 1, 1), 10_000)  # a huge page: no OFFSET overflow
    now = clock.utcnow()
    rows, more, total = ops.passages_on(ids, clock.today(now), page=page, per_page=PER_PAGE)
    context = {"rows": rows, "more": more, "total": total, "page_no": page, "chosen": chosen,
               "checkpoints": checkpoints, "pending": ops.pending_checkins(ids, now) if page == 1 else []}
    if request.headers.get("HX-Request") and page > 1:
        return render_template("scan/_today_rows.html", **context)
    return page_or_fragment("scan/today.html", "scan/_today.html", **context)


@bp.get("/chot/tu-bao")
@role_required("checkpoint")
def pending():
    """Self check-ins waiting at one checkpoint, for the scan screen (loaded when online)."""
    checkpoint = _checkpoint(request.args.get("chot"))
    return render_template("scan/_pending.html", pending=ops.pending_checkins([checkpoint.id], clock.utcnow()),
                           checkpoints=[checkpoint], on_scan=True)


@bp.get("/quy-tac.json")
@limiter.limit("60 per minute")
def rules_json():
    """The published rules, instruction labels and levels, for the scan screen offline (public data)."""
    body = json.dumps(offline_rules(clock.today()), ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:16])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response.make_conditional(request)


@bp.app_template_filter("decision_label")
def decision_label(decision: str | None) -> str:
    return {"allow": _("Let through"), "refuse": _("Turned back"),
            "quarantine": _("Sent to centralised quarantine")}.get(decision or "", _("Waiting"))
