"""One person, one follow-up: which declarations are the same traveller.

A declaration is the same person as an earlier one with the same ID number, or else with the same
name (folded as text.fold does: no case, no diacritics), birth year and phone. Each declaration
points to its Person (declaration.person_id); routing a trip of a person whose arrival is still
open links the trip into that arrival (followup.operations.add_trip) instead of a second row.
"""
from sqlalchemy import (and_, any_, bindparam, func, insert, literal, literal_column, or_, select, tuple_, union_all,
                        update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import Arrival, ArrivalTrip, Declaration, Person
from .clock import utcnow
from .text import fold


def keys_of(id_number: str | None, full_name: str | None, birth_year: int | None, phone: str | None) -> dict:
    return {"id_number": (id_number or "").strip(), "name_folded": fold(full_name or "")[:120],
            "birth_year": birth_year, "phone": (phone or "").strip()}


def _has_triple(keys: dict) -> bool:
    return bool(keys["name_folded"] and keys["phone"] and keys["birth_year"] is not None)


# '' written into the SQL, not a parameter: the partial unique indexes' conditions must be visible to
# the planner in a prepared statement's generic plan (psycopg prepares after 5 runs), else it cannot
# use those indexes and scans every person (4-6 s per 2,000-row import chunk at 100,000 persons).
EMPTY = literal_column("''")


def find(keys: dict) -> Person | None:
    """The person these keys name: by ID number first, else by name + birth year + phone; a person
    keeps the keys of their first declaration, so a later declaration's ID number or phone counts
    too. One query (every declaration pays it): the four ways ranked, the best one wins."""
    parts = []
    if keys["id_number"]:
        parts.append(select(Person.id.label("pid"), literal(1).label("rank"))
                     .where(Person.id_number == keys["id_number"], Person.id_number != EMPTY))
    if _has_triple(keys):
        parts.append(select(Person.id, literal(2)).where(
            Person.name_folded == keys["name_folded"], Person.birth_year == keys["birth_year"],
            Person.phone == keys["phone"], Person.name_folded != EMPTY, Person.phone != EMPTY,
            Person.birth_year.is_not(None)))
    if keys["id_number"]:
        parts.append(select(Declaration.person_id, literal(3)).where(
            Declaration.id_number == keys["id_number"], Declaration.person_id.is_not(None)))
    if _has_triple(keys):
        parts.append(select(Declaration.person_id, literal(4)).where(
            Declaration.search_name == keys["name_folded"], Declaration.birth_year == keys["birth_year"],
            Declaration.phone == keys["phone"], Declaration.person_id.is_not(None)))
    if not parts:
        return None
    ranked = union_all(*parts).subquery()
    best = select(ranked.c.pid).order_by(ranked.c.rank).limit(1).scalar_subquery()
    return db.session.scalar(select(Person).where(Person.id == best))


def _insert_new(keys: dict) -> int | None:
    """Insert a person, or nothing when a unique index says another transaction (or an earlier
    declaration) holds these keys: one statement, no savepoint. Returns the new id or None."""
    dialect = db.session.get_bind(Person).dialect.name
    stmt = (postgresql.insert(Person) if dialect == "postgresql" else sqlite.insert(Person))
    stmt = stmt.values(**keys, created_at=utcnow()).on_conflict_do_nothing().returning(Person.id)
    return db.session.scalar(stmt)


def _savepoint(work) -> bool:
    """Run `work` and flush in a savepoint; False when a unique index refused it (another
    transaction wrote the same person first), leaving the session usable."""
    try:
        with db.session.begin_nested():
            work()
            db.session.flush()
    except IntegrityError:
        return False
    return True


def _complete(person: Person, keys: dict) -> None:
    """Fill keys the person did not have yet (an imported list without ID number or birth year),
    unless another person already holds them."""
    if not person.id_number and keys["id_number"]:
        _savepoint(lambda: setattr(person, "id_number", keys["id_number"]))
    if not (person.name_folded and person.phone and person.birth_year is not None) and _has_triple(keys):
        def fill():
            person.name_folded, person.birth_year, person.phone = (
                keys["name_folded"], keys["birth_year"], keys["phone"])
        _savepoint(fill)


def person_id_for(keys: dict) -> int | None:
    """The id of the person with these keys, created if new (None only when the keys name nobody:
    no ID number and no name + birth year + phone). Two first declarations of the same person at
    the same moment meet on the partial unique indexes: the loser reads the winner's row."""
    for _attempt in range(3):
        person = find(keys)
        if person is not None:
            _complete(person, keys)
            return person.id
        if not keys["id_number"] and not _has_triple(keys):
            return None
        new_id = _insert_new(keys)
        if new_id is not None:
            return new_id
    raise RuntimeError("could not link the declaration to a person")


def link(decl: Declaration) -> int | None:
    """Point the declaration to its person (inside the caller's transaction); called before the
    declaration is inserted, the link costs no UPDATE. Returns the person's id."""
    if decl.person_id is None:
        decl.person_id = person_id_for(keys_of(decl.id_number, decl.full_name, decl.birth_year, decl.phone))
    return decl.person_id


def link_many(decl_ids: list[int]) -> dict[int, int]:
    """Link freshly inserted declarations (an import chunk) to their persons, set-based (link_keys),
    then one executemany UPDATE. Rows of the same person within the chunk share one person. Returns
    declaration id -> person id."""
    if not decl_ids:
        return {}
    rows = db.session.execute(select(Declaration.id, Declaration.id_number, Declaration.full_name,
                                     Declaration.birth_year, Declaration.phone)
                              .where(Declaration.id.in_(decl_ids))).all()
    linked = link_keys({r[0]: keys_of(*r[1:]) for r in rows})
    table = Declaration.__table__
    db.session.execute(update(table).where(table.c.id == bindparam("decl_id")).values(person_id=bindparam("pid")),
                       [{"decl_id": d, "pid": p} for d, p in linked.items()])  # one executemany
    return linked


def link_keys(keys: dict) -> dict:
    """The persons of declarations about to be written (an import chunk), before they are inserted, so
    they are written with their person_id (no UPDATE after): `keys` is any row key -> keys_of(...);
    returns row key -> person id, new persons created. Four SELECTs and one INSERT; rows of the same
    person share one person."""
    if not keys:
        return {}
    try:
        with db.session.begin_nested():
            return _link_chunk(keys)
    except _UNIQUE:  # another transaction created one of these persons meanwhile: row by row
        return {row: person_id_for(k) for row, k in keys.items()}


def _unique_errors():
    try:
        from psycopg.errors import UniqueViolation
    except ImportError:  # pragma: no cover  (no PostgreSQL driver)
        return (IntegrityError,)
    return (IntegrityError, UniqueViolation)  # the latter from a COPY on the driver's cursor


_UNIQUE = _unique_errors()


def _triple(k: dict):
    return (k["name_folded"], k["birth_year"], k["phone"]) if _has_triple(k) else None


def _link_chunk(keys: dict[int, dict]) -> dict[int, int]:
    by_id, by_triple = {}, {}
    numbers = sorted({k["id_number"] for k in keys.values() if k["id_number"]})
    triples = sorted({_triple(k) for k in keys.values() if _triple(k)})
    if numbers:
        by_id.update(db.session.execute(select(Person.id_number, Person.id)
                                        .where(_among(Person.id_number, numbers), Person.id_number != EMPTY)).all())
    if triples:
        for pid, name, year, phone in _triple_rows(
                (Person.id, Person.name_folded, Person.birth_year, Person.phone),
                (Person.name_folded, Person.birth_year, Person.phone), triples,
                # The partial unique index's condition, true of every key looked for: the index serves.
                Person.name_folded != EMPTY, Person.phone != EMPTY, Person.birth_year.is_not(None)):
            by_triple[(name, year, phone)] = pid
    # Keys brought by later declarations of a person (see find): one more query each.
    if numbers:
        for number, pid in db.session.execute(select(Declaration.id_number, Declaration.person_id).where(
                _among(Declaration.id_number, numbers), Declaration.person_id.is_not(None))):
            by_id.setdefault(number, pid)
    if triples:
        # By phone alone, the triple checked here: the planner ANDed the name index (hundreds of
        # rows for a common name) with the phone's for each of 2,000 keys, ~120 ms a chunk at 100,000
        # declarations; a phone names a handful.
        wanted = set(triples)
        for name, year, phone, pid in db.session.execute(
                select(Declaration.search_name, Declaration.birth_year, Declaration.phone, Declaration.person_id)
                .where(_among(Declaration.phone, sorted({t[2] for t in triples})), Declaration.person_id.is_not(None))):
            if (name, year, phone) in wanted:
                by_triple.setdefault((name, year, phone), pid)
    linked, new, pending = {}, [], {}
    for decl_id, k in keys.items():
        found = by_id.get(k["id_number"]) if k["id_number"] else None
        if found is None and _triple(k):
            found = by_triple.get(_triple(k))
        if found is not None:
            linked[decl_id] = found
            continue
        # A new person: later rows of the chunk with the same keys share it (negative placeholder).
        placeholder = -(len(new) + 1)
        new.append(k)
        linked[decl_id] = placeholder
        if k["id_number"]:
            by_id[k["id_number"]] = placeholder
        if _triple(k):
            by_triple[_triple(k)] = placeholder
        pending[placeholder] = k
    if new:
        ids = _insert_persons(new)
        real = {-(n + 1): pid for n, pid in enumerate(ids)}
        linked = {d: real.get(p, p) for d, p in linked.items()}
    return linked


def _postgresql() -> bool:
    return db.session.get_bind(Person).dialect.name == "postgresql"


def _among(column, values: list):
    """column IN values: on PostgreSQL one array parameter (= ANY), so a chunk of 2,000 keys is one
    short statement whatever its size, and no generic plan of a thousand parameters scans the table."""
    if _postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _triple_rows(columns, key_columns, triples: list, *where):
    """Rows of `columns` whose (name, birth year, phone) `key_columns` are one of `triples`."""
    if _postgresql():
        keys = func.unnest(*(bindparam(None, [t[n] for t in triples], type_=ARRAY(c.type))
                             for n, c in enumerate(key_columns))).table_valued("n", "y", "p").render_derived(name="k")
        return db.session.execute(select(*columns).join(keys, and_(*(
            c == keys.c[name] for c, name in zip(key_columns, ("n", "y", "p"))))).where(*where)).all()
    rows = []
    for n in range(0, len(triples), 300):
        rows += db.session.execute(select(*columns).where(tuple_(*key_columns).in_(triples[n:n + 300]), *where)).all()
    return rows


def _insert_persons(new: list[dict]) -> list[int]:
    """Insert persons, their ids in order: on PostgreSQL ids from the sequence and one COPY."""
    if _postgresql():
        from .imports.operations import _insert_keyed

        return _insert_keyed(Person, [dict(k) for k in new], "id_number")
    return list(db.session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True), new))


_LOCKED = "kiemdich_locked_person"  # session.info: (transaction, person id, open arrival id or None)


def lock(person_id: int) -> None:
    """Wait for any other transaction routing a trip of this person (a row lock on PostgreSQL;
    SQLite has one writer at a time): two passages of the same person at the same moment would
    otherwise both find no open arrival and both route one. Nothing to do when the caller took the
    lock already (mark_locked)."""
    if _marked(person_id) is None:
        db.session.execute(select(Person.id).where(Person.id == person_id).with_for_update(key_share=True))


def mark_locked(person_id: int, open_arrival_id: int | None) -> None:
    """The caller holds the person's row lock in this transaction and, read after taking it, the id
    of their open arrival (open_arrival_id_of): route_arrival need not ask again (the passage write
    spends two round trips less)."""
    db.session.info[_LOCKED] = (db.session().get_transaction(), person_id, open_arrival_id)


def _marked(person_id: int) -> tuple | None:
    transaction, locked, arrival_id = db.session.info.get(_LOCKED, (None, None, None))
    if transaction is None or transaction is not db.session().get_transaction() or locked != person_id:
        return None
    return (arrival_id,)


def open_arrival_id_of(person_id):
    """SQL: the id of the person's open arrival (see open_arrival); person_id may be a column."""
    from .followup.schedule import OPEN

    return (select(Arrival.id).join(Declaration, Arrival.declaration_id == Declaration.id)
            .where(Declaration.person_id == person_id, Arrival.status.in_(OPEN))
            .order_by(Arrival.created_at.desc(), Arrival.id.desc()).limit(1).scalar_subquery())


def open_arrival(person_id: int) -> Arrival | None:
    """The person's arrival still followed (expected, arrived, monitoring, ended without final
    check), newest first; None when every follow-up of theirs has ended."""
    marked = _marked(person_id)
    if marked is not None:  # read by the caller under the lock
        return db.session.get(Arrival, marked[0]) if marked[0] is not None else None
    return db.session.scalar(select(Arrival).where(Arrival.id == open_arrival_id_of(person_id)))


def follows(decl_id):
    """SQL condition: the arrival follows this declaration (its first trip or a linked one).

    One IN over a UNION ALL of two index lookups, not `declaration_id = x OR id IN (...)`: PostgreSQL
    cannot answer that OR from indexes and scanned every arrival (70 ms at 300,000 arrivals, on the
    traveller's status answer, the most frequent request)."""
    return Arrival.id.in_(union_all(select(Arrival.id).where(Arrival.declaration_id == decl_id),
                                    select(ArrivalTrip.arrival_id).where(ArrivalTrip.declaration_id == decl_id)))


def shown_arrival(decl_id):
    """SQL: the follow-up to show for this declaration (the returnee's page, the status answer):
    the newest that follows it, a follow-up merged into another (followup.operations.merge) last."""
    return (select(Arrival).where(follows(decl_id))
            .order_by(Arrival.status == "merged", Arrival.created_at.desc(), Arrival.id.desc()).limit(1))


def declarations_of(decl_ids) -> list[int]:
    """Every declaration of the persons these declarations belong to (themselves included)."""
    ids = list(decl_ids)
    if not ids:
        return []
    persons = select(Declaration.person_id).where(Declaration.id.in_(ids), Declaration.person_id.is_not(None))
    return list(db.session.scalars(select(Declaration.id).where(
        or_(Declaration.id.in_(ids), Declaration.person_id.in_(persons)))))


def trips(arrival: Arrival) -> list[dict]:
    """Every trip of the arrival's person, oldest first, for the officer's page: whether it is
    followed in this arrival, in another one (its history) or was not routed. Two queries."""
    decl = arrival.declaration
    if decl.person_id is None:
        return []
    rows = db.session.execute(select(Declaration).where(Declaration.person_id == decl.person_id)
                              .order_by(Declaration.created_at, Declaration.id)).scalars().all()
    here = {arrival.declaration_id} | set(db.session.scalars(
        select(ArrivalTrip.declaration_id).where(ArrivalTrip.arrival_id == arrival.id)))
    return [{"decl": d, "here": d.id in here} for d in rows]
