"""import_job: progress, lease and uploaded file of a batch's running job, apart from the batch row

Revision ID: h6_import_job
Revises: e8ccefe196e5
"""
from alembic import op
import sqlalchemy as sa

import kiemdich.models.types


revision = "h6_import_job"
down_revision = "e8ccefe196e5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_job",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", kiemdich.models.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", kiemdich.models.types.UTCDateTime(), nullable=True),
        sa.Column("file", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"], name=op.f("fk_import_job_batch_id_import_batch")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_import_job_user_id_user")),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_import_job")),
    )


def downgrade():
    op.drop_table("import_job")
