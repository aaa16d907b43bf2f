"""withdrawal requests: once voting or judging has started, an organiser decides

Revision ID: e2f3a4b5c6d7
Revises: d1e2f3a4b5c6
Create Date: 2026-12-12 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e2f3a4b5c6d7'
down_revision = 'd1e2f3a4b5c6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'withdrawal_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decision_reason', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'approved', 'declined')", name=op.f('ck_withdrawal_request_state_known')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                                name=op.f('fk_withdrawal_request_decided_by_id_user_account'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_withdrawal_request_entry_id_entry'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                                name=op.f('fk_withdrawal_request_requested_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawal_request')),
    )
    with op.batch_alter_table('withdrawal_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withdrawal_request_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index('ux_withdrawal_request_pending', ['entry_id'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))


def downgrade():
    with op.batch_alter_table('withdrawal_request', schema=None) as batch_op:
        batch_op.drop_index('ux_withdrawal_request_pending')
        batch_op.drop_index(batch_op.f('ix_withdrawal_request_entry_id'))
    op.drop_table('withdrawal_request')
