"""login sessions

Revision ID: 63aa65ebec28
Revises: 4b7e2d91c0a5
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import contest.db


# revision identifiers, used by Alembic.
revision = '63aa65ebec28'
down_revision = '4b7e2d91c0a5'
branch_labels = None
depends_on = None


def upgrade():
    # One row per browser sign-in, revocable. Browsers signed in before this revision
    # carry ids of the earlier form, which match no row: they are simply signed out.
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', contest.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', contest.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', contest.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', contest.db.UTCDateTime(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_login_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_session_token_hash'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index('ix_login_session_user', ['user_id', 'revoked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index('ix_login_session_user')

    op.drop_table('login_session')
