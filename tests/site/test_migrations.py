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


def test_the_latest_migrations_go_down_and_up_again(tmp_path):
    """A release can be rolled back: the migrations of this season's changes (SMS delivery,
    video renditions) downgrade and upgrade again on a database of their own."""
    from flask_migrate import downgrade, upgrade

    from contest import create_app
    from contest.config import Settings

    app = create_app(Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                              database_url=f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}", media_root=str(tmp_path / "m")))
    head = script_directory().get_current_head()
    with app.app_context():
        upgrade()
        downgrade(revision="9d4f1a2b7c3e")
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "9d4f1a2b7c3e"
        upgrade()
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
        db.engine.dispose()
