"""judge invitations: the number a link was texted to, and revocation

Revision ID: f3a4b5c6d7e8
Revises: e2f3a4b5c6d7
Create Date: 2026-12-13 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3a4b5c6d7e8'
down_revision = 'e2f3a4b5c6d7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('judge_invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_judge_invite_revoked_by_id_user_account'), 'user_account',
                                    ['revoked_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('judge_invite', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_judge_invite_revoked_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('revoked_by_id')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('phone')
