"""Each role's home: what it needs to see first, filtered by its scope."""
from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..accounts.auth import role_required
from ..extensions import db
from ..models import Checkpoint, Passage

bp = Blueprint("homes", __name__)


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
    """Supervisor: the dashboard of their area (kiemdich.dashboard)."""
    from ..dashboard.views import page

    return page()
