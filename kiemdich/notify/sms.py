"""Text messages to returnees through a gateway a province plugs in.

KIEMDICH_SMS_GATEWAY names a class ("package.module.ClassName") with one method:

    class MyProvider:
        def __init__(self, app): ...                      # read its own settings from app.config
        def send(self, phone: str, body: str) -> SendResult: ...

`send` returns SendResult(sent=True, ref="provider's message id") when the provider accepted
the message, SendResult(sent=False, error="...") otherwise (it should not raise; if it does, the
message is recorded as failed). Every message is kept in sms_message with its outcome, shown to
administrators at /quan-tri/tin-nhan. The default, RecordingGateway, sends nothing: it only
records what it would have sent, so a province sees the reminders before it signs a contract.
"""
import importlib
import logging
from dataclasses import dataclass

from flask import current_app

from .. import clock
from ..extensions import db
from ..models import SmsMessage

log = logging.getLogger(__name__)
DEFAULT = "kiemdich.notify.sms.RecordingGateway"


@dataclass(frozen=True)
class SendResult:
    sent: bool
    ref: str = ""
    error: str = ""


class RecordingGateway:
    """Sends nothing; the message is only recorded (status "recorded")."""

    recording_only = True

    def __init__(self, app=None):
        self.app = app

    def send(self, phone: str, body: str) -> SendResult:
        return SendResult(sent=False)


def gateway_path() -> str:
    return current_app.config.get("KIEMDICH_SMS_GATEWAY") or DEFAULT


def load_gateway(path: str | None = None):
    """An instance of the configured gateway class; ValueError naming the setting if it is wrong."""
    path = path or gateway_path()
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"KIEMDICH_SMS_GATEWAY={path!r} is not an importable class: {err}") from err
    return cls(current_app._get_current_object())


def send(phone: str, body: str, *, kind: str, arrival_id: int | None = None, gateway=None) -> SmsMessage:
    """Hand one message to the gateway and record it (added to the session, committed by the caller)."""
    gateway = gateway or load_gateway()
    path = f"{type(gateway).__module__}.{type(gateway).__qualname__}"
    if getattr(gateway, "recording_only", False):
        status, ref = "recorded", ""
    else:
        try:
            result = gateway.send(phone, body)
        except Exception as err:  # noqa: BLE001  the provider's client failed: record it, go on
            log.warning("SMS gateway %s failed: %s", path, err)
            result = SendResult(sent=False, error=str(err))
        status, ref = ("sent" if result.sent else "failed"), (result.ref or result.error)[:100]
    message = SmsMessage(to_phone=phone, body=body, kind=kind, arrival_id=arrival_id, gateway=path[:200],
                         status=status, provider_ref=ref, created_at=clock.utcnow())
    db.session.add(message)
    return message
