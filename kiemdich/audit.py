"""Writing the audit trail: one plain function every feature calls."""
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models import AuditEvent


def record(action: str, obj=None, *, object_type: str = "", object_id: str = "", before=None,
           after=None, detail: str = "", area_code: str | None = None, user=None) -> AuditEvent:
    """Add an audit event to the session; it is committed with the change it describes."""
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or str(getattr(obj, "id", "") or getattr(obj, "code", ""))
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=object_id,
        user_id=getattr(user, "id", None),
        username=getattr(user, "username", "") or "",
        role=getattr(user, "role", "") or "",
        ip=(request.remote_addr or "") if has_request_context() else "",
        before=before,
        after=after,
        detail=detail,
        area_code=area_code,
    )
    db.session.add(event)
    return event


class AuditTampering(RuntimeError):
    """An attempt to change or delete an audit event through the ORM."""


@event.listens_for(Session, "before_flush")
def _append_only(session, _flush_context, _instances):
    """The audit trail is append-only: no code path of the app may update or delete an event."""
    for obj in list(session.deleted) + list(session.dirty):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTampering(f"audit event {obj.id} cannot be changed or deleted")
