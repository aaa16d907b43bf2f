"""ledger blocks carry a format version: RFC 6962 hashing for new blocks

Revision ID: 0a1b2c3d4e5f
Revises: f3a4b5c6d7e8
Create Date: 2026-12-13 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0a1b2c3d4e5f'
down_revision = 'f3a4b5c6d7e8'
branch_labels = None
depends_on = None


def upgrade():
    # Blocks sealed before this revision are version 1 and keep verifying by their own rule.
    with op.batch_alter_table('ledger_block', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('tree_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('frontier', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('ledger_block', schema=None) as batch_op:
        batch_op.drop_column('frontier')
        batch_op.drop_column('tree_size')
        batch_op.drop_column('version')
