"""sms delivery: kind, parameters, state, attempts, gateway answer; code requests by subnet

Revision ID: b6c1d2e3f4a5
Revises: 9d4f1a2b7c3e
Create Date: 2026-12-09 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b6c1d2e3f4a5'
down_revision = '9d4f1a2b7c3e'
branch_labels = None
depends_on = None


def upgrade():
    # Rows already in the outbox were written by the console sender: they count as sent.
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=30), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=10), nullable=False, server_default='sent'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('provider', sa.String(length=20), nullable=False, server_default='console'))
        batch_op.add_column(sa.Column('request_id', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('error_code', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('error_reason', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('retryable', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_sms_outbox_state_known'), "state IN ('queued', 'sending', 'sent', 'failed')")
        batch_op.create_index(batch_op.f('ix_sms_outbox_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_sms_outbox_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
    # The caps on code requests count sms_code rows by address, /24 or /64, and time.
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_subnet', sa.String(length=50), nullable=False, server_default=''))
        batch_op.create_index('ix_sms_code_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_sms_code_requested_ip_created_at', ['requested_ip', 'created_at'], unique=False)
        batch_op.create_index('ix_sms_code_requested_subnet_created_at', ['requested_subnet', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_code_requested_subnet_created_at')
        batch_op.drop_index('ix_sms_code_requested_ip_created_at')
        batch_op.drop_index('ix_sms_code_created_at')
        batch_op.drop_column('requested_subnet')
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_outbox_state_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_sms_outbox_created_at'))
        batch_op.drop_constraint(batch_op.f('ck_sms_outbox_state_known'), type_='check')
        for column in ('sent_at', 'claimed_at', 'next_attempt_at', 'retryable',
                       'error_reason', 'error_code', 'request_id', 'provider', 'attempts', 'state', 'params', 'kind'):
            batch_op.drop_column(column)
