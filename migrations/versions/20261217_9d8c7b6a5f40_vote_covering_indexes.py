"""vote counts per entry, status and reason kept beside the votes; vote indexes that cover the fraud desk's counts

Revision ID: 9d8c7b6a5f40
Revises: 5e9a2c71d4b3
Create Date: 2026-12-17 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9d8c7b6a5f40'
down_revision = '5e9a2c71d4b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'vote_count',
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('slot', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.CheckConstraint('n >= 0', name=op.f('ck_vote_count_n_not_negative')),
        sa.ForeignKeyConstraint(['contest_id'], ['contest.id'], name=op.f('fk_vote_count_contest_id_contest'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_vote_count_entry_id_entry'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('contest_id', 'entry_id', 'status', 'reason', 'slot', name=op.f('pk_vote_count')),
    )
    # the votes cast so far, counted once (in slot 0: one slot, voting.models.COUNT_SLOTS)
    op.execute("INSERT INTO vote_count (contest_id, entry_id, status, reason, slot, n) "
               "SELECT contest_id, entry_id, status, CASE WHEN status = 'voided' THEN status_reason ELSE '' END, 0, "
               "count(*) FROM vote "
               "GROUP BY contest_id, entry_id, status, CASE WHEN status = 'voided' THEN status_reason ELSE '' END")
    # a contest's counts per entry, status and reason, and the risk scores beside them
    op.create_index('ix_vote_contest_figures', 'vote', ['contest_id', 'entry_id', 'status', 'status_reason', 'risk_score'],
                    unique=False)
    # one entry's votes per hour, and its top addresses, subnets and device cookies
    op.create_index('ix_vote_entry_hour', 'vote', ['entry_id', 'created_at', 'status'], unique=False)
    for column in ('ip', 'subnet', 'device_id'):
        op.create_index(f'ix_vote_entry_{column}', 'vote', ['entry_id', column], unique=False,
                        postgresql_include=['voter_id', 'status'])


def downgrade():
    for column in ('device_id', 'subnet', 'ip'):
        op.drop_index(f'ix_vote_entry_{column}', table_name='vote')
    op.drop_index('ix_vote_entry_hour', table_name='vote')
    op.drop_index('ix_vote_contest_figures', table_name='vote')
    op.drop_table('vote_count')
