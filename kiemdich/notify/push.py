"""Web Push to officers' browsers (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

The VAPID key pair is an ECDSA P-256 key created in instance/ on first start, like the QR
signing key (never in git); browsers subscribe with its public half (`application_server_key`).
pywebpush encrypts every message for the subscription's own key (aes128gcm), so the push service
of the browser's vendor carries it without reading it. A subscription the push service says is
gone (404, 410) is deleted.
"""
import base64
import json
import logging
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from .. import clock
from ..extensions import db
from ..models import PushSubscription
from ..tokens import load_or_create_key

log = logging.getLogger(__name__)
_EXT = "kiemdich.vapid"
TTL_SECONDS = 12 * 3600  # a phone off for the night still gets the morning's message
TIMEOUT_SECONDS = 10
MAX_FAILURES = 5  # then the subscription is dropped: the browser will not come back


def key_path(app: Flask) -> Path:
    return Path(app.config.get("KIEMDICH_VAPID_KEY_FILE") or Path(app.instance_path) / "vapid-private-key.pem")


def init_app(app: Flask) -> None:
    """Create the VAPID key on first start (mode 0600; several workers starting at once agree)."""
    app.extensions[_EXT] = load_or_create_key(key_path(app))


def _key():
    return current_app.extensions[_EXT]


def application_server_key() -> str:
    """The public key browsers pass to pushManager.subscribe: the uncompressed point, base64url."""
    point = _key().public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")


def _claims() -> dict:
    # The push service may contact the sender about abuse: the deployment's address or the hotline.
    contact = current_app.config.get("KIEMDICH_PUSH_CONTACT") or "mailto:admin@localhost"
    return {"sub": contact}


def send(sub: PushSubscription, message: dict) -> bool:
    """Encrypt and deliver one message; True if the push service accepted it. Leaves the
    subscription row updated (or deleted when the browser unsubscribed) for the caller to commit."""
    info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
    try:
        webpush(info, data=json.dumps(message, ensure_ascii=False), vapid_private_key=Vapid(private_key=_key()),
                vapid_claims=_claims(), ttl=TTL_SECONDS, timeout=TIMEOUT_SECONDS)
    except WebPushException as err:
        status = getattr(err.response, "status_code", None)
        if status in (404, 410):
            db.session.delete(sub)
        else:
            _failed(sub, err)
        return False
    except Exception as err:  # noqa: BLE001  network trouble: this message is lost, the next may pass
        _failed(sub, err)
        return False
    sub.last_sent_at = clock.utcnow()
    sub.failures = 0
    return True


def _failed(sub: PushSubscription, err: Exception) -> None:
    log.warning("push to subscription %s failed: %s", sub.id, err)
    sub.failures = (sub.failures or 0) + 1
    if sub.failures >= MAX_FAILURES:
        db.session.delete(sub)
