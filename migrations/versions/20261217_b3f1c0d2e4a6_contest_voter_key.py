"""contests: a secret of their own for the ledger's voter pseudonyms (event format 4)

Revision ID: b3f1c0d2e4a6
Revises: 9d8c7b6a5f40
Create Date: 2026-12-17 09:00:00.000000

Each existing contest gets 32 random bytes. Events written before keep their format
(3 and older) and recompute as they were written.
"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3f1c0d2e4a6'
down_revision = '9d8c7b6a5f40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contest') as batch_op:
        batch_op.add_column(sa.Column('voter_key', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    contest = sa.table('contest', sa.column('id', sa.Integer), sa.column('voter_key', sa.String))
    for (contest_id,) in conn.execute(sa.select(contest.c.id)).all():
        conn.execute(contest.update().where(contest.c.id == contest_id).values(voter_key=secrets.token_hex(32)))
    with op.batch_alter_table('contest') as batch_op:
        batch_op.alter_column('voter_key', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('contest') as batch_op:
        batch_op.drop_column('voter_key')
