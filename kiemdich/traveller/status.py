"""Where a traveller stands: the timeline of their trip and the next thing they must do. Pure."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..clock import LOCAL
from ..followup.schedule import day_of, last_day

ACTIVE = ("expected", "arrived", "monitoring", "ended_unchecked")  # the link must keep working


@dataclass
class Step:
    key: str  # declared, checkpoint, arrived, monitoring, completed
    state: str  # done, current, todo, stopped
    when: datetime | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class Status:
    steps: list[Step]
    next_action: str  # show_qr, wait_staff, expired, report_arrival, monitor, transit, refused, done, other
    day: int | None = None  # monitoring day X of N
    days: int | None = None
    valid_for_passage: bool = False


def _decided(passages):
    """Staff decisions, newest last; self check-ins not yet confirmed."""
    decided = [p for p in passages if p.decision is not None]
    confirmed = {p.confirms_id for p in decided if p.confirms_id}
    waiting = [p for p in passages if p.kind == "self_checkin" and p.decision is None and p.id not in confirmed]
    return sorted(decided, key=lambda p: p.server_ts), sorted(waiting, key=lambda p: p.server_ts)


def monitoring_day(arrival, today: date) -> tuple[int, int] | None:
    """(X, N) for "day X of N", or None without a plan; X is kept within 1..N. The same count as
    the commune's (kiemdich.followup.schedule): the self-monitoring after the measure counts."""
    if arrival is None or not arrival.plan_start or not arrival.plan_end:
        return None
    return day_of(arrival.plan_start, last_day(arrival.plan_start, arrival.plan_end, arrival.self_monitoring_until),
                  today)


def timeline(declaration, passages, arrival, *, now: datetime, today: date) -> Status:
    """The five steps: declared, passed a checkpoint, arrived, monitoring day X of N, completed."""
    decided, waiting = _decided(passages)
    valid = now <= declaration.valid_until
    steps = [Step("declared", "done", declaration.created_at)]
    last = decided[-1] if decided else None

    if last is not None and last.decision == "refuse":
        steps.append(Step("checkpoint", "stopped", last.server_ts, {"passage": last}))
        return Status(steps, "refused", valid_for_passage=valid)
    if last is not None:
        steps.append(Step("checkpoint", "done", last.server_ts, {"passage": last}))
    elif waiting:
        steps.append(Step("checkpoint", "current", waiting[-1].server_ts, {"passage": waiting[-1]}))
    else:
        steps.append(Step("checkpoint", "current"))
    if last is None:
        steps += [Step("arrived", "todo"), Step("monitoring", "todo"), Step("completed", "todo")]
        action = "wait_staff" if waiting and valid else "show_qr" if valid else "expired"
        return Status(steps, action, valid_for_passage=valid)

    if arrival is None:
        if last.transit:
            return Status(steps, "transit")
        steps += [Step("arrived", "current"), Step("monitoring", "todo"), Step("completed", "todo")]
        return Status(steps, "report_arrival")

    if arrival.status == "expected":
        steps += [Step("arrived", "current", detail={"arrival": arrival}),
                  Step("monitoring", "todo"), Step("completed", "todo")]
        return Status(steps, "report_arrival")
    steps.append(Step("arrived", "done", arrival.arrived_at, {"arrival": arrival}))
    plan = monitoring_day(arrival, today)
    if arrival.status in ("arrived", "monitoring"):
        steps += [Step("monitoring", "current", detail={"arrival": arrival}), Step("completed", "todo")]
        day, days = plan or (None, None)
        return Status(steps, "monitor", day=day, days=days)
    if arrival.status == "completed":
        steps += [Step("monitoring", "done", detail={"arrival": arrival}),
                  Step("completed", "done", arrival.ended_at, {"arrival": arrival})]
        return Status(steps, "done", *(plan or (None, None)))
    # Ended without the final check, lost contact, transferred, referred, left the province.
    steps += [Step("monitoring", "stopped", detail={"arrival": arrival}), Step("completed", "todo")]
    return Status(steps, "other", *(plan or (None, None)))


def link_ends_at(declaration, arrival) -> datetime | None:
    """When the monitoring (or, without an arrival, the passage window) is over; None while it goes on.

    The personal link keeps working until this moment plus the grace period.
    """
    if arrival is None:
        return declaration.valid_until
    if arrival.status in ACTIVE:
        return None
    ends = [d for d in (arrival.ended_at,) if d]
    last_day = arrival.self_monitoring_until or arrival.plan_end
    if last_day:
        ends.append(datetime.combine(last_day + timedelta(days=1), time(0, 0), LOCAL))
    return max(ends) if ends else arrival.updated_at


def link_expired(declaration, arrival, *, now: datetime, grace_days: int) -> bool:
    """True once the status page should only say "đã kết thúc"."""
    if declaration.deidentified_at is not None:
        return True
    if arrival is None and any(p.decision in ("allow", "quarantine") and not p.transit
                               for p in declaration.passages):
        return False  # passed, and the commune has not opened the follow-up yet: keep it
    end = link_ends_at(declaration, arrival)
    return end is not None and now > end + timedelta(days=grace_days)
