"""Each role's home: what it needs to see first, filtered by its scope."""
from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..accounts.auth import role_required
from ..accounts.scope import commune_codes
from ..extensions import db
from ..models import Arrival, Checkpoint, Declaration, Passage

bp = Blueprint("homes", __name__)


def _arrival_counts(codes: set[str]) -> dict[str, int]:
    rows = db.session.execute(
        select(Arrival.status, func.count()).where(Arrival.commune_code.in_(codes)).group_by(Arrival.status))
    return dict(rows.all())


@bp.get("/xa")
@role_required("commune")
def commune():
    """Commune officer: the follow-up lists of their communes (kiemdich/followup)."""
    from ..followup.views import home

    return home()


@bp.get("/chot")
@role_required("checkpoint")
def checkpoint():
    """Checkpoint staff: their checkpoints and today's passages."""
    ids = current_user.checkpoint_ids
    checkpoints = db.session.scalars(select(Checkpoint).where(Checkpoint.id.in_(ids))).all()
    per_checkpoint = dict(db.session.execute(
        select(Passage.checkpoint_id, func.count()).where(Passage.checkpoint_id.in_(ids))
        .group_by(Passage.checkpoint_id)).all())
    return render_template("homes/checkpoint.html", checkpoints=checkpoints, per_checkpoint=per_checkpoint)


@bp.get("/tinh")
@role_required("supervisor")
def supervisor():
    """Supervisor: the figures of their area."""
    codes = commune_codes(current_user)
    counts = _arrival_counts(codes)
    declarations = db.session.scalar(
        select(func.count()).select_from(Declaration).where(Declaration.dest_commune_code.in_(codes)))
    checkpoints = db.session.scalars(
        select(Checkpoint).where(Checkpoint.commune_code.in_(codes)).order_by(Checkpoint.name)).all()
    return render_template("homes/supervisor.html", counts=counts, declarations=declarations,
                           checkpoints=checkpoints)
