"""push_subscription and sms_message: officers' Web Push subscriptions, text messages to returnees

Revision ID: h9_notify
Revises: h6_import_job
"""
from alembic import op
import sqlalchemy as sa

import kiemdich.models.types


revision = "h9_notify"
down_revision = "h8_arrival_list_indexes"  # the head on this branch (h6 is merged); the lead re-chains
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("created_at", kiemdich.models.types.UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", kiemdich.models.types.UTCDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_push_subscription_user_id_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscription_endpoint")),
    )
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscription_user_id"), ["user_id"], unique=False)
    op.create_table(
        "sms_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_phone", sa.String(length=15), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("arrival_id", sa.Integer(), nullable=True),
        sa.Column("gateway", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=False),
        sa.Column("created_at", kiemdich.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arrival_id"], ["arrival.id"], name=op.f("fk_sms_message_arrival_id_arrival"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message")),
    )
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_message_arrival_id"), ["arrival_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_message_created_at"), ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_message_created_at"))
        batch_op.drop_index(batch_op.f("ix_sms_message_arrival_id"))
    op.drop_table("sms_message")
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscription_user_id"))
    op.drop_table("push_subscription")
