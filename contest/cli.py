"""flask commands: users, SMS outbox, demo data, rebuilding Redis."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError

from .accounts import service as accounts
from .accounts import units
from .accounts.actors import SYSTEM
from .accounts.models import ROLES, UNIT_LEVELS, UNIT_ROLES
from .antifraud import service as antifraud
from .clock import to_local
from .contests import service as contests
from .errors import DomainError
from .extensions import db
from .i18n import label_of
from .media.cli import register_media_cli
from .results.cli import register_results_cli
from .voting import live
from .voting.cli import register_voting_cli

users_cli = AppGroup("users", help="Create accounts and manage their roles.")
sms_cli = AppGroup("sms", help="Read the SMS outbox: each message and its delivery.")
redis_cli = AppGroup("redis", help="Rebuild what Redis holds from the database.")
units_cli = AppGroup("units", help="Organising units and their members' roles (the operators' command).")


def _now() -> datetime:
    return current_app.extensions["clock"].now()


@users_cli.command("create")
@click.option("--phone", required=True, help="Mainland mobile number (11 digits).")
@click.option("--password", required=True, help="At least 8 characters with letters and digits.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="Repeat for several roles.")
@click.option("--name", default="", help="Display name.")
def create_user(phone: str, password: str, roles: tuple[str, ...], name: str) -> None:
    """Create a verified account."""
    try:
        user = accounts.create_user(db.session, phone=phone, password=password, roles=list(roles) or ["citizen"],
                                    now=_now(), display_name=name)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"created user {user.id} ({user.phone}) with roles {', '.join(sorted(user.role_names))}")


@units_cli.command("list")
def list_units() -> None:
    """Every unit with its level, 区县 and members."""
    for unit in units.list_units(db.session):
        click.echo(f"{unit.id}\t{unit.name}\t{unit.level}\t{unit.district or '-'}")
        for m in units.members_of(db.session, unit):
            scope = f" (contest {m.contest_id})" if m.contest_id else ""
            click.echo(f"\t{m.user.phone}\t{m.role}{scope}")


@units_cli.command("create")
@click.argument("name")
@click.option("--level", type=click.Choice(UNIT_LEVELS), default="district", show_default=True)
@click.option("--district", default="", help="The 区县 of a district unit, e.g. 历下区.")
def create_unit(name: str, level: str, district: str) -> None:
    """Create an organising unit."""
    try:
        unit = units.save_unit(db.session, actor=SYSTEM, unit=None, name=name, level=level, district=district, now=_now())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"created unit {unit.id} ({unit.name})")


@units_cli.command("grant")
@click.argument("unit_name")
@click.argument("phone")
@click.argument("role", type=click.Choice(UNIT_ROLES))
@click.option("--contest", "slug", default="", help="Limit the role to one contest of the unit (its slug).")
def grant_unit_role(unit_name: str, phone: str, role: str, slug: str) -> None:
    """Give the account with this phone a role in the unit (e.g. the first 单位管理员)."""
    unit = next((u for u in units.list_units(db.session) if u.name == unit_name), None)
    if unit is None:
        raise click.ClickException(f"no unit named {unit_name}")
    try:
        contest_id = contests.get_contest(db.session, slug, include_unpublished=True).id if slug else None
        units.add_member_by_phone(db.session, actor=SYSTEM, unit=unit, phone=phone, role=role, contest_id=contest_id,
                                  now=_now())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{phone} is {role} of {unit.name}" + (f" for {slug}" if slug else ""))


def _change_roles(phone: str, role: str, grant: bool) -> None:
    try:
        user = accounts.find_user_by_phone(db.session, accounts.normalize_phone(phone))
        if user is None:
            raise click.ClickException(f"no account with phone {phone}")
        wanted = user.role_names | {role} if grant else user.role_names - {role}
        before, after = accounts.set_roles(db.session, actor=SYSTEM, user=user, roles=wanted, now=_now())
        contests.unlink_former_contact(db.session, actor=SYSTEM, user=user, now=_now())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{user.phone}: {', '.join(before) or '-'} -> {', '.join(after) or '-'}")


@users_cli.command("grant")
@click.argument("phone")
@click.argument("role", type=click.Choice(ROLES))
def grant_role(phone: str, role: str) -> None:
    """Give an account a role."""
    _change_roles(phone, role, grant=True)


@users_cli.command("revoke")
@click.argument("phone")
@click.argument("role", type=click.Choice(ROLES))
def revoke_role(phone: str, role: str) -> None:
    """Take a role from an account."""
    _change_roles(phone, role, grant=False)


@sms_cli.command("outbox")
@click.option("--phone", default=None)
@click.option("--limit", default=10, show_default=True)
def show_outbox(phone: str | None, limit: int) -> None:
    """Print the latest messages, oldest first, each with its delivery (state, tries, the gateway's answer)."""
    for message in reversed(accounts.outbox(db.session, phone=phone, limit=limit)):
        d = accounts.describe_sms(message)
        delivery = " · ".join(str(part) for part in (
            label_of("sms_state", d["state"]), d["reason"], d["error_code"], d["request_id"],
            f"{d['attempts']}次" if d["attempts"] > 1 else "") if part)
        click.echo(f"{to_local(message.created_at):%Y-%m-%d %H:%M:%S} {message.phone} {message.body}  [{delivery}]")


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete existing demo contests first.")
def demo_command(reset: bool) -> None:
    """Seed the Activity Week around today: schools, the three contests, entries with images, accounts."""
    from .demo import seed_demo

    if current_app.extensions["settings"].is_production:
        # The demo's accounts (an admin among them) have published passwords.
        raise click.ClickException("flask demo is refused when CONTEST_ENV=production: its accounts' passwords are public")

    seed_demo(db.session, current_app.extensions["storage"], current_app.extensions["settings"], _now(),
              reset=reset, echo=click.echo)


@redis_cli.command("rebuild")
def rebuild_redis() -> None:
    """Refill Redis from the database after it was flushed, replaced or down: the live
    boards of every contest and the anti-fraud windows of the last day.

    Everything else Redis holds rebuilds itself or is meant to be short-lived: the
    registration memo is recounted by the next vote that needs it; captchas, SMS send
    windows and rate-limit counters expire within minutes anyway.
    """
    redis = current_app.extensions["redis"]
    if redis is None:
        raise click.ClickException("未配置 Redis（REDIS_URL）：排行榜和风控计数直接读取数据库，无需重建。")
    try:
        boards = live.recount(db.session, redis)
        db.session.commit()  # the figures' counts, rebuilt beside the boards
        windows = antifraud.rebuild_windows(db.session, redis, _now())
    except (RedisError, TimeoutError) as exc:
        raise click.ClickException(f"Redis 出错，重建未完成（可以再次运行）：{exc}") from None
    click.echo(f"排行榜：{len(boards)} 项活动已按数据库重建（共 {sum(boards.values())} 张有效票）。")
    click.echo(f"风控计数：已写回最近一天的 {windows} 次投票。")


jobs_cli = AppGroup("jobs", help="The job runner: run its consumer, see its queue.")


@jobs_cli.command("worker")
@click.option("--workers", type=click.IntRange(2, 32), default=2, show_default=True,
              help="Worker threads (the ledger's sealing turn keeps one busy).")
def jobs_worker(workers: int) -> None:
    """Run the job runner's consumer until stopped (Ctrl-C or SIGTERM): it seals the
    ledger every 2 s, prunes hourly, sweeps stored media hourly, verifies the ledger
    nightly and runs queued work."""
    from .jobs import run_worker

    run_worker(current_app._get_current_object(), workers=workers,  # type: ignore[attr-defined]
               on_start=lambda: click.echo(f"job runner: {workers} workers; stop with Ctrl-C"))


@jobs_cli.command("status")
def jobs_status() -> None:
    """Queued, running, failed and scheduled work, and the schedules."""
    from .jobs import jobs_of, status

    found = status(jobs_of(current_app))
    click.echo(f"queued: {found.queued}   scheduled: {found.scheduled}   running: {len(found.running)}   "
               f"failed lately: {len(found.failed)}")
    for name, seconds in found.running:
        click.echo(f"  running  {name} for {seconds:.0f} s")
    for name, ago, error in found.failed[:10]:
        click.echo(f"  failed   {name} {ago:.0f} s ago: {error}")
    click.echo("schedules: " + ", ".join(found.periodic))


def register_cli(app: Flask) -> None:
    register_media_cli(app)
    register_voting_cli(app)
    register_results_cli(app)
    app.cli.add_command(users_cli)
    app.cli.add_command(sms_cli)
    app.cli.add_command(redis_cli)
    app.cli.add_command(units_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(demo_command)
