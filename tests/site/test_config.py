"""Start-up settings: production refuses to start half-configured; development needs nothing."""

from __future__ import annotations

import stat

import pytest

from contest import create_app
from contest.config import ConfigError, Settings

PG = "postgresql+psycopg://contest@127.0.0.1/contest"
REDIS = "redis://127.0.0.1:6379/0"
GOOD_SECRET = "s" * 32


def production(tmp_path, **values: str) -> Settings:
    base = {"secret_key": GOOD_SECRET, "database_url": PG, "redis_url": REDIS, "public_base_url": "https://vote.example.cn"}
    base.update(values)
    return Settings(env="production", instance_path=str(tmp_path / "instance"), **base)


def test_production_without_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        create_app(production(tmp_path, secret_key=""))
    message = str(refused.value)
    assert "SECRET_KEY" in message
    assert "DATABASE_URL" not in message and "REDIS_URL" not in message
    # no secret was invented and written for production
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_names_every_missing_setting(tmp_path):
    with pytest.raises(ConfigError) as refused:
        create_app(Settings(env="production", instance_path=str(tmp_path)))
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert name in str(refused.value)


def test_production_short_secret_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY must be at least 32 characters"):
        create_app(production(tmp_path, secret_key="s" * 31))


def test_production_without_a_public_address_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(production(tmp_path, public_base_url=""))


@pytest.mark.parametrize("value", ["http://vote.example.cn", "https://vote.example.cn/sub", "vote.example.cn",
                                   "https://user:pw@vote.example.cn", "https://vote.example.cn/?x=1"])
def test_production_public_address_must_be_a_bare_https_origin(tmp_path, value):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(production(tmp_path, public_base_url=value))


def test_production_refuses_to_start_without_the_upload_programs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nowhere to find jpegtran or ffmpeg
    with pytest.raises(ConfigError, match=r"install jpegtran \(Debian package libjpeg-turbo-progs\), ffmpeg"):
        create_app(production(tmp_path))


def test_production_sqlite_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL must be postgresql"):
        create_app(production(tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}"))


def test_production_bad_redis_url_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app(production(tmp_path, redis_url="http://127.0.0.1:6379"))


def test_a_complete_production_configuration_starts(tmp_path):
    app = create_app(production(tmp_path))
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TESTING"] is False
    assert app.config["TRUSTED_HOSTS"] == ["vote.example.cn"]


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="CONTEST_ENV"):
        create_app(Settings(env="staging", instance_path=str(tmp_path)))


def test_environment_is_read_inside_create_app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEST_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://vote.example.cn")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"instance_path": str(tmp_path)})
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    assert create_app({"instance_path": str(tmp_path)}).config["SECRET_KEY"] == GOOD_SECRET


def test_development_default_writes_a_secret_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    first = create_app(Settings(env="development", instance_path=str(instance)))
    secret_file = instance / "secret_key"
    assert secret_file.is_file()
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    assert first.config["SECRET_KEY"] == secret
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    second = create_app(Settings(env="development", instance_path=str(instance)))
    assert second.config["SECRET_KEY"] == secret
    # a different instance folder gets a different secret
    other = create_app(Settings(env="development", instance_path=str(tmp_path / "other")))
    assert other.config["SECRET_KEY"] != secret


def test_development_defaults_are_the_embedded_set_up(tmp_path):
    instance = tmp_path / "instance"
    app = create_app(Settings(env="development", instance_path=str(instance)))
    settings = app.extensions["settings"]
    assert settings.database_url == f"sqlite:///{instance / 'contest.sqlite3'}"
    assert settings.media_root == str(instance / "media")
    assert app.extensions["redis"] is None
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_unknown_override_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown settings: colour"):
        create_app({"instance_path": str(tmp_path), "colour": "blue"})
