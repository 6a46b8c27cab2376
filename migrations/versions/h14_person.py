"""one person, one follow-up: a person table linking the declarations of the same traveller (same ID
number, or same folded name + birth year + phone), later trips linked into an open arrival

Revision ID: h14_person
Revises: h7_birth_year_optional
"""
from alembic import op
import sqlalchemy as sa

from kiemdich.models.types import UTCDateTime

revision = "h14_person"
down_revision = "h9_notify"
branch_labels = None
depends_on = None

ID_WHERE = "id_number <> ''"
TRIPLE_WHERE = "name_folded <> '' AND phone <> '' AND birth_year IS NOT NULL"


def upgrade():
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=20), nullable=False),
        sa.Column("name_folded", sa.String(length=120), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=15), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_person_id_number", "person", ["id_number"], unique=True,
                    sqlite_where=sa.text(ID_WHERE), postgresql_where=sa.text(ID_WHERE))
    op.create_index("uq_person_name_year_phone", "person", ["name_folded", "birth_year", "phone"], unique=True,
                    sqlite_where=sa.text(TRIPLE_WHERE), postgresql_where=sa.text(TRIPLE_WHERE))
    with op.batch_alter_table("declaration") as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_declaration_person_id"), ["person_id"], unique=False)
        batch_op.create_foreign_key("fk_declaration_person_id_person", "person", ["person_id"], ["id"])
    with op.batch_alter_table("arrival") as batch_op:
        batch_op.add_column(sa.Column("trip_count", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "arrival_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arrival_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=True),
        sa.Column("commune_code", sa.String(length=16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arrival_id"], ["arrival.id"]),
        sa.ForeignKeyConstraint(["commune_code"], ["admin_unit.code"]),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"]),
        sa.ForeignKeyConstraint(["passage_id"], ["passage.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_arrival_trip_arrival_id"), "arrival_trip", ["arrival_id"], unique=False)
    op.create_index(op.f("ix_arrival_trip_declaration_id"), "arrival_trip", ["declaration_id"], unique=False)
    link_existing(op.get_bind())


def link_existing(conn) -> int:
    """Link the declarations already stored, oldest first, by the rule the app applies
    (kiemdich/persons.py): the same ID number, or else the same folded name + birth year + phone.
    De-identified declarations have nothing to link by and stay without a person. Existing
    arrivals are kept as they are (merging two follow-ups is an officer's decision)."""
    from datetime import datetime, timezone

    decl = sa.table("declaration", sa.column("id"), sa.column("id_number"), sa.column("search_name"),
                    sa.column("birth_year"), sa.column("phone"), sa.column("created_at"),
                    sa.column("deidentified_at"), sa.column("person_id"))
    person = sa.table("person", sa.column("id"), sa.column("id_number"), sa.column("name_folded"),
                      sa.column("birth_year"), sa.column("phone"), sa.column("created_at"))
    rows = conn.execute(sa.select(decl.c.id, decl.c.id_number, decl.c.search_name, decl.c.birth_year,
                                  decl.c.phone).where(decl.c.deidentified_at.is_(None))
                        .order_by(decl.c.created_at, decl.c.id)).all()
    by_id, by_triple, persons, members = {}, {}, [], []
    for decl_id, id_number, name, year, phone in rows:
        id_number, name, phone = (id_number or "").strip(), name or "", (phone or "").strip()
        triple = (name, year, phone) if name and phone and year is not None else None
        index = by_id.get(id_number) if id_number else None
        if index is None and triple is not None:
            index = by_triple.get(triple)
        if index is None:
            index = len(persons)
            persons.append({"id_number": id_number, "name_folded": name, "birth_year": year, "phone": phone})
            members.append([])
        # Every declaration's keys name the person (as kiemdich/persons.find reads them).
        if triple is not None:
            by_triple.setdefault(triple, index)
        if id_number and id_number not in by_id and not persons[index]["id_number"]:
            persons[index]["id_number"] = id_number  # a person first seen without one
        if id_number:
            by_id.setdefault(id_number, index)
        members[index].append(decl_id)
    now = datetime.now(timezone.utc)
    for start in range(0, len(persons), 1000):
        chunk = persons[start:start + 1000]
        for n, values in enumerate(chunk):
            pid = conn.execute(sa.insert(person).values(**values, created_at=now).returning(person.c.id)).scalar_one()
            ids = members[start + n]
            for k in range(0, len(ids), 1000):
                conn.execute(sa.update(decl).where(decl.c.id.in_(ids[k:k + 1000])).values(person_id=pid))
    return len(persons)


def downgrade():
    op.drop_index(op.f("ix_arrival_trip_declaration_id"), table_name="arrival_trip")
    op.drop_index(op.f("ix_arrival_trip_arrival_id"), table_name="arrival_trip")
    op.drop_table("arrival_trip")
    with op.batch_alter_table("arrival") as batch_op:
        batch_op.drop_column("trip_count")
    with op.batch_alter_table("declaration") as batch_op:
        batch_op.drop_constraint("fk_declaration_person_id_person", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_declaration_person_id"))
        batch_op.drop_column("person_id")
    op.drop_index("uq_person_name_year_phone", table_name="person")
    op.drop_index("uq_person_id_number", table_name="person")
    op.drop_table("person")
