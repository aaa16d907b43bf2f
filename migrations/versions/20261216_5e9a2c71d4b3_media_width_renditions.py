"""media items: srcset renditions 400, 800 and 1600 px wide

Revision ID: 5e9a2c71d4b3
Revises: 7c41d9e2a5b8
Create Date: 2026-12-16 10:00:00.000000

Images stored before keep "" and are served from their display and thumbnail renditions
until `flask media renditions` makes theirs.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e9a2c71d4b3'
down_revision = '7c41d9e2a5b8'
branch_labels = None
depends_on = None

COLUMNS = ('w400_key', 'w800_key', 'w1600_key')


def upgrade():
    with op.batch_alter_table('media_item') as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=100), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('media_item') as batch_op:
        for name in COLUMNS:
            batch_op.drop_column(name)
