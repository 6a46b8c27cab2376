"""One person, one follow-up for imported lists: a row of a person whose arrival is still open is
linked into that arrival as a trip, and several rows of the same person in one list make one
arrival with several trips. Trips are rare, so they go through the ORM (followup.add_trip)."""
from sqlalchemy import select

from .. import persons
from ..extensions import db
from ..followup.operations import add_trip
from ..followup.schedule import OPEN
from ..models import Arrival, Declaration, Person


def link_followed(routed, people: dict[int, int], *, user_id=None, reason: str = ""):
    """`routed`: the chunk's rows to route, as (parsed row, declaration id, passage id); `people`:
    declaration id -> person id (persons.link_many). Routes the first row of a person seen more than
    once, links the others and the rows of people already followed as trips; returns the rows left
    for the caller to route. Rows whose window is already over (p.past) are history: left alone."""
    from .operations import route_arrivals

    live = [item for item in routed if not item[0].past]
    ids = sorted({people[d] for _p, d, _ps in live})
    if not ids:
        return routed
    # Ordered row locks: a passage of the same person routed meanwhile waits for this transaction.
    db.session.execute(select(Person.id).where(Person.id.in_(ids)).order_by(Person.id).with_for_update())
    open_arrival = dict(db.session.execute(
        select(Declaration.person_id, Arrival.id).join(Declaration, Arrival.declaration_id == Declaration.id)
        .where(Declaration.person_id.in_(ids), Arrival.status.in_(OPEN))
        .order_by(Arrival.created_at, Arrival.id)).all())  # the newest open arrival wins
    keep, firsts, trips = [], {}, []
    for item in routed:
        p, d, _ps = item
        person = people.get(d)
        if p.past or person is None:
            keep.append(item)
        elif person in open_arrival or person in firsts:
            trips.append((person, item))
        else:
            firsts[person] = item
    if not trips:
        return routed
    several = {person: firsts[person] for person, _item in trips if person in firsts}
    keep += [item for person, item in firsts.items() if person not in several]
    if several:
        arrival_ids = route_arrivals([(d, ps, p.commune_code, p.moment, p.instruction, p.plan)
                                      for p, d, ps in several.values()], user_id=user_id, reason=reason)
        open_arrival.update(zip(several, arrival_ids))
    for person, (p, d, ps) in trips:
        add_trip(db.session.get(Arrival, open_arrival[person]), db.session.get(Declaration, d),
                 passage=_Passage(ps), commune_code=p.commune_code, user=_User(user_id), at=p.moment)
    order = {id(item): n for n, item in enumerate(routed)}
    return sorted(keep, key=lambda item: order[id(item)])


class _Passage:
    """What add_trip reads of a passage written by a core INSERT (its id; no symptoms in a list)."""

    def __init__(self, passage_id):
        self.id = passage_id


class _User:
    def __init__(self, user_id):
        self.id = user_id
