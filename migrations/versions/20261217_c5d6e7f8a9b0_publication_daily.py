"""publications: the chart of counted votes per day, made when the results are confirmed

Revision ID: c5d6e7f8a9b0
Revises: b3f1c0d2e4a6
Create Date: 2026-12-17 11:00:00.000000

Publications confirmed before keep NULL: their chart is counted from the ledger when the
results page first shows it, as before.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d6e7f8a9b0'
down_revision = 'b3f1c0d2e4a6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('result_publication') as batch_op:
        batch_op.add_column(sa.Column('daily', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('result_publication') as batch_op:
        batch_op.drop_column('daily')
