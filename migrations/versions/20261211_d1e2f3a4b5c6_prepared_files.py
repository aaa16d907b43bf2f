"""prepared files: large exports and certificate batches made by the job runner

Revision ID: d1e2f3a4b5c6
Revises: c7d8e9f0a1b2
Create Date: 2026-12-11 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd1e2f3a4b5c6'
down_revision = 'c7d8e9f0a1b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'prepared_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('what', sa.String(length=20), nullable=False),
        sa.Column('fmt', sa.String(length=10), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=200), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('queued', 'running', 'ready', 'failed')", name=op.f('ck_prepared_file_state_known')),
        sa.ForeignKeyConstraint(['contest_id'], ['contest.id'], name=op.f('fk_prepared_file_contest_id_contest'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                                name=op.f('fk_prepared_file_requested_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prepared_file')),
    )
    with op.batch_alter_table('prepared_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prepared_file_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prepared_file_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('prepared_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prepared_file_expires_at'))
        batch_op.drop_index(batch_op.f('ix_prepared_file_contest_id'))
    op.drop_table('prepared_file')
