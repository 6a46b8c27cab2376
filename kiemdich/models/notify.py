"""Telling people: officers' Web Push subscriptions and the text messages sent to returnees."""
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class PushSubscription(db.Model):
    """One browser on one device of one user that agreed to receive notifications.

    The endpoint is the push service's address for that browser: unique, so a device signed in
    by another officer moves to them."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))  # the browser's public key, base64url
    auth: Mapped[str] = mapped_column(String(64))  # the shared auth secret, base64url
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class SmsMessage(db.Model):
    """A text message to a returnee, as handed to the SMS gateway (or only recorded by the default one)."""

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_phone: Mapped[str] = mapped_column(String(15))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # reminder
    arrival_id: Mapped[int | None] = mapped_column(ForeignKey("arrival.id", ondelete="SET NULL"), index=True)
    gateway: Mapped[str] = mapped_column(String(200))  # the class path that handled it
    status: Mapped[str] = mapped_column(String(12))  # recorded (not sent), sent, failed
    provider_ref: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
