"""flask votes recount | verify | seal | prune, and flask contests rules."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError

from ..accounts.actors import SYSTEM
from ..contests import service as contests
from ..errors import DomainError
from ..extensions import db
from . import housekeeping, ledger, live

votes_cli = AppGroup("votes", help="Recount live boards, verify and seal the vote ledger.")
contests_cli = AppGroup("contests", help="Operate on contests.")


def _now() -> datetime:
    return current_app.extensions["clock"].now()


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@votes_cli.command("recount")
@click.argument("slug", required=False)
def recount_command(slug: str | None) -> None:
    """Rebuild live counters and leaderboards from the database (one contest, or all)."""
    redis = current_app.extensions["redis"]
    try:
        contest = contests.get_contest(db.session, slug, include_unpublished=True) if slug else None
        totals = live.recount(db.session, redis, contest)
        db.session.commit()  # the figures' counts, rebuilt beside the boards
    except DomainError as exc:
        _fail(exc.message)
    except (RedisError, TimeoutError) as exc:
        _fail(f"Redis 出错，未能重建排行榜：{exc}")
    if redis is None:
        click.echo("未配置 Redis：排行榜直接读取数据库，无需重建。")
    for contest_id, total in totals.items():
        click.echo(f"contest {contest_id}: {total} valid votes" + ("" if redis is None else ", boards rebuilt"))


@votes_cli.command("verify")
def verify_command() -> None:
    """Recompute every event digest, Merkle root and block hash; exit 1 at the first break."""
    report = ledger.verify_ledger(db.session, progress=lambda n: click.echo(f"… {n} events checked"))
    if not report.ok:
        _fail(f"BROKEN after {report.blocks} blocks, {report.events} events: {report.problem}")
    head = ledger.head(db.session)
    click.echo(f"OK: {report.blocks} blocks, {report.events} events; head "
               + (f"#{head.id} {head.hash}" if head else "(nothing sealed yet)"))


@votes_cli.command("prune")
def prune_command() -> None:
    """Delete fraud observations, Idempotency-Key answers and ended sign-ins past their use (never votes)."""
    click.echo(str(housekeeping.prune(db.session, _now())))


@votes_cli.command("seal")
def seal_command() -> None:
    """Seal pending ledger events into a block now (the job runner's sealing turn does this
    every 2 seconds: `flask jobs worker`)."""
    block = ledger.seal_pending(db.session, now=_now())
    db.session.commit()
    if block is not None:
        click.echo(f"sealed block #{block.id}: {block.event_count} events, hash {block.hash}")
    else:
        click.echo("nothing to seal")


@contests_cli.command("rules")
@click.argument("slug")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Repeat for several rules.")
def rules_command(slug: str, assignments: tuple[str, ...]) -> None:
    """Show a contest's rules, or change some with --set key=value (audit-logged)."""
    values: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"格式应为 key=value：{item}")
        values[key.strip()] = value.strip()
    try:
        contest = contests.get_contest(db.session, slug, include_unpublished=True)
        if not values:
            for key, value in contests.rules_of(contest).as_dict().items():
                click.echo(f"{key} = {value!r}")
            return
        before, after = contests.set_rules(db.session, actor=SYSTEM, contest=contest, values=values, now=_now())
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    db.session.commit()
    if not after:
        click.echo("没有变化。")
    for key in after:
        click.echo(f"{key}: {before[key]!r} → {after[key]!r}")


def register_voting_cli(app: Flask) -> None:
    app.cli.add_command(votes_cli)
    app.cli.add_command(contests_cli)
