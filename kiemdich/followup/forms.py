"""Reading the follow-up forms into plain values; validation lives in operations (callable from tests)."""
from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l

from ..declarations.forms import SYMPTOM_LABELS
from ..models.travel import SYMPTOMS
from .operations import CheckInput, FollowupError

SYMPTOM_CHOICES = [(code, SYMPTOM_LABELS[code]) for code in SYMPTOMS]
OFFICER_SOURCES = [("visit", _l("Home visit")), ("phone", _l("By phone")), ("self", _l("Reported by the person"))]


def _yes_no(raw: str | None) -> bool | None:
    return {"1": True, "0": False}.get((raw or "").strip())


def check_input(form, *, source: str | None = None) -> CheckInput:
    """A CheckInput from a posted form (the returnee's form fixes the source to "self")."""
    return CheckInput(temperature=form.get("temperature", ""), symptoms=tuple(form.getlist("symptoms")),
                      spo2=form.get("spo2", ""), present=_yes_no(form.get("present")),
                      test_result=form.get("test_result", ""), test_kind=form.get("test_kind", ""),
                      note=form.get("note", ""), source=source or form.get("source", "visit"))


def client_ts(form) -> datetime | None:
    """The device's clock when the action was taken: milliseconds since 1970 or an ISO 8601 time
    (the outbox stamps `new Date().toISOString()`); None when absent or unreadable."""
    raw = (form.get("client_ts") or "").strip()[:40]
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, timezone.utc)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except (OverflowError, OSError, ValueError):
        return None
    return moment.astimezone(timezone.utc) if moment and moment.tzinfo else None


def integer(form, name: str, default: int | None = None, *, message=None) -> int:
    raw = (form.get(name) or "").strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FollowupError(message or _l("Enter a whole number."), name) from None


def day_list(form, name: str) -> list[int]:
    """"1, 7, 14" -> [1, 7, 14]."""
    raw = (form.get(name) or "").replace(";", ",").replace(" ", ",")
    try:
        return sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise FollowupError(_l("Write the test days as numbers separated by commas, e.g. 1, 7."), name) from None


def coordinate(form, name: str) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
