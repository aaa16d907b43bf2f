"""video playback renditions: key, state, failure reason, claim

Revision ID: c7d8e9f0a1b2
Revises: b6c1d2e3f4a5
Create Date: 2026-12-10 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7d8e9f0a1b2'
down_revision = 'b6c1d2e3f4a5'
branch_labels = None
depends_on = None


def upgrade():
    # Videos stored before renditions keep state '' and go on being served as they are.
    with op.batch_alter_table('media_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('playback_key', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('playback_state', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('playback_error', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('playback_claimed_at', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_media_item_playback_state_known'), "playback_state IN ('', 'pending', 'ready', 'failed')")


def downgrade():
    with op.batch_alter_table('media_item', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_media_item_playback_state_known'), type_='check')
        for column in ('playback_claimed_at', 'playback_error', 'playback_state', 'playback_key'):
            batch_op.drop_column(column)
