"""Server-side sessions (sign-out revokes, hard end) and sign-in failures per name and address

Revision ID: h5_sessions_and_throttle
Revises: e8ccefe196e5

"""
from alembic import op
import sqlalchemy as sa

import kiemdich.models.types


revision = "h5_sessions_and_throttle"
down_revision = "h7_birth_year_optional"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("user_session",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("created_at", kiemdich.models.types.UTCDateTime(), nullable=False),
    sa.Column("expires_at", kiemdich.models.types.UTCDateTime(), nullable=False),
    sa.Column("ended_at", kiemdich.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_user_session_user_id_user"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session"))
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    op.create_table("sign_in_failure",
    sa.Column("username", sa.String(length=64), nullable=False),
    sa.Column("source", sa.String(length=64), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("locked_until", kiemdich.models.types.UTCDateTime(), nullable=True),
    sa.Column("updated_at", kiemdich.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("username", "source", name=op.f("pk_sign_in_failure"))
    )
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failure_updated_at"), ["updated_at"], unique=False)

    # The counters moved to sign_in_failure (per name and address, counted atomically).
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", kiemdich.models.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failure_updated_at"))
    op.drop_table("sign_in_failure")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
    op.drop_table("user_session")
