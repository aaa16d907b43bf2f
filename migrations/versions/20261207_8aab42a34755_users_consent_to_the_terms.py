"""users consent to the terms

Revision ID: 8aab42a34755
Revises: 50e30fb5e6de
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import contest.db


# revision identifiers, used by Alembic.
revision = '8aab42a34755'
down_revision = '50e30fb5e6de'
branch_labels = None
depends_on = None


def upgrade():
    # Registration now asks for consent to the user agreement and the privacy policy and
    # stores which version was accepted, and when. Accounts that exist already (made
    # before the documents, or by operators) have none: both stay NULL.
    op.add_column('user_account', sa.Column('terms_version', sa.String(length=20), nullable=True))
    op.add_column('user_account', sa.Column('terms_accepted_at', contest.db.UTCDateTime(), nullable=True))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy of the table: on
    # SQLite that copy drops the old user_account, and its ON DELETE CASCADE would take
    # every account's votes, ledger events and sign-ins with it.
    op.drop_column('user_account', 'terms_accepted_at')
    op.drop_column('user_account', 'terms_version')
