"""imports: birth year optional (passage lists often carry no "Năm sinh" column); a saved profile
remembers how the file's checkpoint names map to the app's checkpoints

Revision ID: h7_birth_year_optional
Revises: e8ccefe196e5
"""
from alembic import op
import sqlalchemy as sa

revision = "h7_birth_year_optional"
down_revision = "h6_import_job"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("declaration") as batch_op:
        batch_op.alter_column("birth_year", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("import_profile") as batch_op:
        batch_op.add_column(sa.Column("checkpoints", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("import_profile") as batch_op:
        batch_op.drop_column("checkpoints")
    with op.batch_alter_table("declaration") as batch_op:
        batch_op.alter_column("birth_year", existing_type=sa.Integer(), nullable=False)
