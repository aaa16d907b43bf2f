"""ledger events carry the vote status

Revision ID: 50e30fb5e6de
Revises: 63aa65ebec28
Create Date: 2026-12-06 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '50e30fb5e6de'
down_revision = '63aa65ebec28'
branch_labels = None
depends_on = None


def upgrade():
    # The status an event leaves its vote in becomes a column, and `format` says which
    # fields an event's digest covers. Events written before this revision are format 1:
    # their digests, already sealed, stay as they were (they do not cover vote_status),
    # and their status is carried over from what they say: a void leaves the vote
    # voided, a release valid, and a cast held when its detail reads "held: …".
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vote_status', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('format', sa.Integer(), nullable=True))

    op.execute(
        "UPDATE ledger_event SET format = 1, vote_status = CASE"
        " WHEN kind = 'void' THEN 'voided'"
        " WHEN kind = 'release' THEN 'valid'"
        " WHEN substr(detail, 1, 4) = 'held' THEN 'held'"
        " ELSE 'valid' END"
    )

    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.alter_column('vote_status', existing_type=sa.String(length=10), nullable=False)
        batch_op.alter_column('format', existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint(op.f('ck_ledger_event_vote_status_known'),
                                         "vote_status IN ('valid', 'held', 'voided')")


def downgrade():
    # Events of format 2 keep their rows but not their vote_status: their digests cover
    # it, so a ledger holding them no longer verifies once this is undone.
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_event_vote_status_known'), type_='check')
        batch_op.drop_column('format')
        batch_op.drop_column('vote_status')
