"""ledger indexes for streamed verification and proofs from stored subtree heads

Revision ID: 7c41d9e2a5b8
Revises: 1b2c3d4e5f6a
Create Date: 2026-12-15 10:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c41d9e2a5b8'
down_revision = '1b2c3d4e5f6a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ledger_event_block_order', 'ledger_event', ['block_id', 'id'], unique=False)
    op.create_index(op.f('ix_ledger_block_tree_size'), 'ledger_block', ['tree_size'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_ledger_block_tree_size'), table_name='ledger_block')
    op.drop_index('ix_ledger_event_block_order', table_name='ledger_event')
