"""passage(confirms_id): is a self check-in answered?

The scan screen reloads the self check-ins waiting at its checkpoint after every passage it sends
and every minute; each one is "waiting" while no staff passage confirms it. Without an index on
confirms_id PostgreSQL answered that by reading every passage (a hash anti-join over the table:
about 100 ms at 300,000 passages).

Revision ID: h15_passage_confirms_id
Revises: h1_import_row_batch_row
"""
from alembic import op

revision = "h15_passage_confirms_id"
down_revision = "h1_import_row_batch_row"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("passage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passage_confirms_id"), ["confirms_id"], unique=False)


def downgrade():
    with op.batch_alter_table("passage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passage_confirms_id"))
