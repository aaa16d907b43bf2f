"""duplicate flags indexed by the other entry

Revision ID: 4b7e2d91c0a5
Revises: 8c3d2e4f6a10
Create Date: 2026-12-06 04:08:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4b7e2d91c0a5'
down_revision = '8c3d2e4f6a10'
branch_labels = None
depends_on = None


def upgrade():
    # The moderation queue finds an entry's flags from either side of the pair.
    with op.batch_alter_table('duplicate_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_flag_other_entry_id'), ['other_entry_id'], unique=False)


def downgrade():
    with op.batch_alter_table('duplicate_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_flag_other_entry_id'))
