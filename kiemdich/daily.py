"""The daily rules, one function each, called by the queue's periodic tasks and by the CLI alike."""
from sqlalchemy import select

from .extensions import db


def end_rule() -> int:
    """Apply the end-of-monitoring rule in every commune; committed. Returns arrivals changed."""
    from .followup.operations import settle_ended
    from .models import Arrival

    codes = set(db.session.scalars(select(Arrival.commune_code).distinct()))
    changed = settle_ended(codes)
    db.session.commit()
    return changed


def retention(days: int, *, dry_run: bool = False) -> int:
    """De-identify travellers whose monitoring ended more than `days` days ago; committed."""
    from .privacy.operations import retention as deidentify

    count = deidentify(days, dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return count
