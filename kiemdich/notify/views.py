"""Officers turn notifications on and off (/thong-bao/...); administrators see the text messages."""
from flask import Blueprint, has_request_context, jsonify, render_template, request, session
from flask_login import current_user, user_logged_out
from sqlalchemy import func, select

from ..accounts.auth import role_required
from ..extensions import db
from ..models import SmsMessage
from . import operations as ops, sms

bp = Blueprint("notify", __name__)
SESSION_KEY = "kd_push_endpoint"  # this device's subscription, forgotten on sign-out
PAGE = 200


def _json() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.post("/thong-bao/dang-ky")
@role_required("commune")
def subscribe():
    """Store this browser's push subscription (JSON from PushSubscription.toJSON())."""
    data = _json()
    try:
        sub = ops.subscribe(current_user, data, user_agent=request.user_agent.string)
    except ops.SubscriptionError as err:
        db.session.rollback()
        return jsonify(error=str(err)), 422
    db.session.commit()
    session[SESSION_KEY] = sub.endpoint
    return jsonify(subscribed=True)


@bp.post("/thong-bao/huy")
@role_required("commune")
def unsubscribe():
    data = _json()
    ops.unsubscribe(current_user, str(data.get("endpoint") or session.get(SESSION_KEY) or ""))
    db.session.commit()
    session.pop(SESSION_KEY, None)
    return jsonify(subscribed=False)


@user_logged_out.connect
def _forget_device(_app, user=None, **_extra):
    """Signing out stops this device's notifications: the next person on it is not told."""
    # The sign-out form also names it (static/js/push.js): a cookie written by another request at
    # the same moment may have lost the session's copy.
    endpoint = session.get(SESSION_KEY) or (request.form.get("push_endpoint") if has_request_context() else None)
    if endpoint and user is not None and getattr(user, "id", None):
        ops.unsubscribe(user, endpoint)
        db.session.commit()


@bp.get("/quan-tri/tin-nhan")
@role_required("admin")
def messages():
    """The text messages to returnees: what the gateway sent, or what it would have sent."""
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(PAGE)).all()
    total = db.session.scalar(select(func.count()).select_from(SmsMessage))
    return render_template("notify/messages.html", rows=rows, total=total, gateway=sms.gateway_path(),
                           recording=sms.gateway_path() == sms.DEFAULT)
