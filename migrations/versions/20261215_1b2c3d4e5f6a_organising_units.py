"""organising units: contests belong to a unit, people hold roles in units, audit rows carry both

Revision ID: 1b2c3d4e5f6a
Revises: 0a1b2c3d4e5f
Create Date: 2026-12-15 10:00:00.000000

Existing contests go to the bodies the city's notice names: the 最美职校生 selection and the
黄炎培 contest to 济南市中华职业教育社 (with 济南市教育局 as co-organiser), 全民美拍 to
济南市教育局 (with the 职教社 as co-organiser). Every existing organiser becomes an
organiser of both units, so nobody loses what they could do. The free-text organiser
field gives way to the units.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '1b2c3d4e5f6a'
down_revision = '0a1b2c3d4e5f'
branch_labels = None
depends_on = None

BUREAU, SOCIETY = "济南市教育局", "济南市中华职业教育社"


def upgrade():
    op.create_table(
        'organising_unit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('level', sa.String(length=10), nullable=False),
        sa.Column('district', sa.String(length=20), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("level IN ('city', 'district')", name=op.f('ck_organising_unit_level_known')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organising_unit')),
        sa.UniqueConstraint('name', name=op.f('uq_organising_unit_name')),
    )
    op.create_table(
        'unit_membership',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=True),
        sa.Column('granted_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'organiser', 'reviewer', 'judge_manager', 'viewer')",
                           name=op.f('ck_unit_membership_role_known')),
        sa.ForeignKeyConstraint(['contest_id'], ['contest.id'], name=op.f('fk_unit_membership_contest_id_contest'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['organising_unit.id'], name=op.f('fk_unit_membership_unit_id_organising_unit'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_unit_membership_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_membership')),
    )
    with op.batch_alter_table('unit_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_membership_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('ix_unit_membership_user', ['user_id', 'unit_id'], unique=False)
    op.create_table(
        'contest_co_unit',
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contest_id'], ['contest.id'], name=op.f('fk_contest_co_unit_contest_id_contest'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['organising_unit.id'], name=op.f('fk_contest_co_unit_unit_id_organising_unit'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('contest_id', 'unit_id', name=op.f('pk_contest_co_unit')),
    )
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_contest_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_contest_unit_id_organising_unit'), 'organising_unit', ['unit_id'], ['id'],
                                    ondelete='RESTRICT')
        # Before any row refers to a contest: SQLite rebuilds the table, and its rows' links would go with it.
        batch_op.drop_column('organiser')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contest_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_event_contest_id_contest'), 'contest', ['contest_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_audit_event_unit_id_organising_unit'), 'organising_unit', ['unit_id'],
                                    ['id'], ondelete='SET NULL')

    bind = op.get_bind()
    contests = list(bind.execute(sa.text("SELECT id, kind FROM contest")))
    organisers = [row[0] for row in bind.execute(sa.text("SELECT user_id FROM user_role WHERE role = 'organiser'"))]
    if contests or organisers:
        now = datetime.now(UTC)
        unit_ids = {}
        for position, name in enumerate((BUREAU, SOCIETY)):
            bind.execute(sa.text("INSERT INTO organising_unit (name, level, district, position, created_at) "
                                 "VALUES (:name, 'city', '', :position, :now)"), {"name": name, "position": position, "now": now})
            unit_ids[name] = bind.execute(sa.text("SELECT id FROM organising_unit WHERE name = :name"), {"name": name}).scalar()
        for contest_id, kind in contests:
            owner, co = (BUREAU, SOCIETY) if kind == "media" else (SOCIETY, BUREAU)
            bind.execute(sa.text("UPDATE contest SET unit_id = :unit WHERE id = :id"), {"unit": unit_ids[owner], "id": contest_id})
            bind.execute(sa.text("INSERT INTO contest_co_unit (contest_id, unit_id) VALUES (:c, :u)"),
                         {"c": contest_id, "u": unit_ids[co]})
        for user_id in organisers:
            for unit_id in unit_ids.values():
                bind.execute(sa.text("INSERT INTO unit_membership (unit_id, user_id, role, granted_at) "
                                     "VALUES (:unit, :user, 'organiser', :now)"), {"unit": unit_id, "user": user_id, "now": now})


def downgrade():
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organiser', sa.String(length=200), nullable=False, server_default=''))
    bind = op.get_bind()
    for contest_id, name in list(bind.execute(sa.text(
            "SELECT contest.id, organising_unit.name FROM contest JOIN organising_unit ON organising_unit.id = contest.unit_id"))):
        bind.execute(sa.text("UPDATE contest SET organiser = :name WHERE id = :id"), {"name": name, "id": contest_id})
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_event_unit_id_organising_unit'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_audit_event_contest_id_contest'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_event_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_contest_id'))
        batch_op.drop_column('unit_id')
        batch_op.drop_column('contest_id')
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contest_unit_id_organising_unit'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_contest_unit_id'))
        batch_op.drop_column('unit_id')
    op.drop_table('contest_co_unit')
    with op.batch_alter_table('unit_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_unit_membership_user')
        batch_op.drop_index(batch_op.f('ix_unit_membership_unit_id'))
    op.drop_table('unit_membership')
    op.drop_table('organising_unit')
