"""contests' award date and demo flag

Revision ID: 9d4f1a2b7c3e
Revises: 8aab42a34755
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d4f1a2b7c3e'
down_revision = '8aab42a34755'
branch_labels = None
depends_on = None


def upgrade():
    # The date certificates are signed with; NULL (every contest so far) means the
    # publication's date, as before. is_demo marks the contests `flask demo` made.
    op.add_column('contest', sa.Column('awarded_on', sa.Date(), nullable=True))
    op.add_column('contest', sa.Column('is_demo', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy of the table: on
    # SQLite that copy drops the old contest, and its ON DELETE CASCADE would take every
    # entry, vote and publication with it.
    op.drop_column('contest', 'is_demo')
    op.drop_column('contest', 'awarded_on')
