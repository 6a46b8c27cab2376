"""import_analysis: the dry run's reading of a batch's rows, one row per chunk, for the commit to reuse

Revision ID: h13_import_analysis
Revises: h15_passage_confirms_id
"""
from alembic import op
import sqlalchemy as sa

revision = "h13_import_analysis"
down_revision = "h15_passage_confirms_id"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_analysis",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("after", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"], name=op.f("fk_import_analysis_batch_id_import_batch")),
        sa.PrimaryKeyConstraint("batch_id", "after", name=op.f("pk_import_analysis")),
    )


def downgrade():
    op.drop_table("import_analysis")
