"""arrival indexes for the commune lists and the dashboard

arrival(commune_code, status) replaces arrival(commune_code), which it covers; arrival(expected_at)
serves the dashboard's counts by day and its drill-down (issue 14).

Revision ID: h8_arrival_list_indexes
Revises: e8ccefe196e5
"""
from alembic import op

revision = "h8_arrival_list_indexes"
down_revision = "h5_sessions_and_throttle"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("arrival", schema=None) as batch_op:
        batch_op.create_index("ix_arrival_commune_code_status", ["commune_code", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_arrival_expected_at"), ["expected_at"], unique=False)
        batch_op.drop_index(batch_op.f("ix_arrival_commune_code"))


def downgrade():
    with op.batch_alter_table("arrival", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrival_commune_code"), ["commune_code"], unique=False)
        batch_op.drop_index(batch_op.f("ix_arrival_expected_at"))
        batch_op.drop_index("ix_arrival_commune_code_status")
