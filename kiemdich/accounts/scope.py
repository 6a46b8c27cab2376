"""What a signed-in user may see: every query filters by this."""
from sqlalchemy import select, union

from ..extensions import db
from ..models import AdminUnit, UserArea


def commune_codes(user) -> set[str]:
    """The communes inside a user's areas (a province in scope covers all of its communes)."""
    codes = set(user.area_codes)
    if not codes:
        return set()
    children = db.session.scalars(select(AdminUnit.code).where(AdminUnit.parent_code.in_(codes)))
    return codes | set(children)


def commune_codes_select(user):
    """commune_codes(user) as a subquery, for a query that needs the scope without a round trip
    of its own."""
    areas = select(UserArea.area_code).where(UserArea.user_id == user.id)
    return union(areas, select(AdminUnit.code).where(AdminUnit.parent_code.in_(areas)))


def can_see_commune(user, code: str | None) -> bool:
    return bool(code) and code in commune_codes(user)


def can_see_checkpoint(user, checkpoint) -> bool:
    if user.role == "checkpoint":
        return checkpoint.id in user.checkpoint_ids
    if user.role == "supervisor":
        return can_see_commune(user, checkpoint.commune_code)
    return False
