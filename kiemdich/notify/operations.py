"""Who is told what: officers' subscriptions, the morning count, a red flag, returnees' reminders."""
import logging
from datetime import date, datetime, timedelta

from flask import current_app, has_request_context
from flask_babel import force_locale, gettext as _, ngettext
from sqlalchemy import delete, func, select

from .. import clock
from ..accounts.scope import commune_codes
from ..extensions import db
from ..followup import schedule
from ..followup.handover import plain, status_link
from ..models import AdminUnit, Arrival, Declaration, HealthCheck, PushSubscription, User
from . import push, sms

log = logging.getLogger(__name__)
MAX_ENDPOINT = 1000


class SubscriptionError(ValueError):
    """A subscription the browser sent that cannot be stored."""


def subscribe(user, data: dict, *, user_agent: str = "") -> PushSubscription:
    """Store (or move to `user`) the browser's subscription, as PushSubscription.toJSON() gives it."""
    endpoint = str(data.get("endpoint") or "")
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    p256dh, auth = str(keys.get("p256dh") or ""), str(keys.get("auth") or "")
    if not endpoint.startswith(("https://", "http://")) or len(endpoint) > MAX_ENDPOINT \
            or not 80 <= len(p256dh) <= 200 or not 16 <= len(auth) <= 64:
        raise SubscriptionError(_("This browser sent an unusable subscription. Try again."))
    sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if sub is None:
        sub = PushSubscription(endpoint=endpoint, created_at=clock.utcnow(), failures=0)
        db.session.add(sub)
    sub.user_id, sub.p256dh, sub.auth = user.id, p256dh, auth
    sub.user_agent = (user_agent or "")[:200]
    return sub


def unsubscribe(user, endpoint: str) -> int:
    """Forget this device's subscription of `user`; how many were removed (0 or 1)."""
    result = db.session.execute(delete(PushSubscription).where(
        PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint))
    return result.rowcount or 0


def subscribed(user, endpoint: str) -> bool:
    return db.session.scalar(select(PushSubscription.id).where(
        PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint)) is not None


def _officers() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == "commune", User.active.is_(True))
                                   .where(User.id.in_(select(PushSubscription.user_id)))))


def _send_to(user: User, message: dict) -> int:
    sent = 0
    for sub in db.session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)).all():
        sent += push.send(sub, message)
    return sent


def new_today(codes, now: datetime) -> int:
    """People routed to these communes in the last 24 hours and not arrived yet."""
    if not codes:
        return 0
    return db.session.scalar(select(func.count()).select_from(Arrival).where(
        Arrival.commune_code.in_(sorted(codes)), Arrival.status == "expected",
        Arrival.expected_at >= now - timedelta(hours=24))) or 0


def morning_push(now: datetime | None = None) -> int:
    """Each subscribed commune officer with someone expected: "N người mới sẽ đến xã bạn hôm nay"."""
    now = now or clock.utcnow()
    sent = 0
    for user in _officers():
        n = new_today(commune_codes(user), now)
        if n:
            with force_locale("vi"):
                message = {"title": _("New arrivals"),
                           "body": ngettext("%(num)s new person will arrive in your commune today",
                                            "%(num)s new people will arrive in your commune today", n),
                           "url": "/xa/ds/expected", "tag": "kd-morning"}
            sent += _send_to(user, message)
    return sent


def red_push(arrival_id: int) -> int:
    """Every subscribed officer of the arrival's commune, at once: someone shows signs of illness."""
    arrival = db.session.get(Arrival, arrival_id)
    if arrival is None or not arrival.flagged:
        return 0
    decl = arrival.declaration
    unit = db.session.get(AdminUnit, arrival.commune_code)
    sent = 0
    for user in _officers():
        if arrival.commune_code in commune_codes(user):
            with force_locale("vi"):
                # The name stays out of the message: it may show on a locked screen.
                message = {"title": _("Signs of illness"),
                           "body": _("A person followed in %(commune)s reported signs of illness. Open to see who.",
                                     commune=unit.name if unit else arrival.commune_code),
                           "url": f"/xa/nguoi-den/{decl.code}", "tag": f"kd-red-{decl.code}"}
            sent += _send_to(user, message)
    return sent


def remind_returnees(today: date | None = None, gateway=None) -> int:
    """A text to each person under monitoring with a phone and no health declaration yet today."""
    today = today or clock.today()
    if not current_app.config.get("KIEMDICH_PUBLIC_URL") and not has_request_context():
        log.warning("SMS reminders skipped: set KIEMDICH_PUBLIC_URL so the messages can carry the link")
        return 0
    checked = select(HealthCheck.arrival_id).where(HealthCheck.check_date == today)
    rows = db.session.execute(
        select(Arrival, Declaration.phone).join(Declaration, Arrival.declaration_id == Declaration.id)
        .where(Arrival.status.in_(schedule.MONITORED), Arrival.measure != "declaration_only",
               Declaration.phone != "", Declaration.deidentified_at.is_(None), Arrival.id.not_in(checked))
        .order_by(Arrival.id)).all()
    gateway = gateway or sms.load_gateway()
    for arrival, phone in rows:
        with force_locale("vi"):
            body = plain(_("Reminder from the health station: declare your health for today at %(link)s",
                           link=status_link(arrival)))
        sms.send(phone, body, kind="reminder", arrival_id=arrival.id, gateway=gateway)
    return len(rows)
