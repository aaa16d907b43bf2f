"""The schema comes from the migrations: one head, and it matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from contest import PROJECT_ROOT
from contest.db import Base
from contest.extensions import db


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config)


def test_migrations_have_a_single_head():
    heads = script_directory().get_heads()
    assert len(heads) == 1, f"several Alembic heads, merge them: {heads}"


def test_every_revision_file_is_date_prefixed_and_in_the_chain():
    scripts = script_directory()
    chained = {rev.revision for rev in scripts.walk_revisions()}
    files = sorted((PROJECT_ROOT / "migrations" / "versions").glob("*.py"))
    assert files
    for path in files:
        assert path.name[:8].isdigit(), path.name
        assert any(rev in path.name for rev in chained), path.name


def test_the_test_database_is_at_the_head(app):
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == script_directory().get_current_head()


def test_models_match_the_migrated_database(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models and migrations differ; add a migration:\n" + "\n".join(map(str, differences))
