"""flask media …: storage upkeep."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..errors import DomainError
from ..extensions import db
from . import orphans, service

media_cli = AppGroup("media", help="Stored media files: upkeep.")


@media_cli.command("sweep")
@click.option("--grace-hours", default=24, show_default=True, type=click.IntRange(1, 24 * 365),
              help="Keep files stored or used more recently than this many hours (at least 1).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
@click.option("--verbose", is_flag=True, help="Print each file deleted (or that would be).")
def sweep(grace_hours: int, dry_run: bool, verbose: bool) -> None:
    """Delete stored files no row refers to, and leftovers of interrupted writes, once untouched
    for the grace period. Run it hourly (cron or a systemd timer)."""
    try:
        report = orphans.sweep_orphans(db.session, current_app.extensions["storage"],
                                       now=current_app.extensions["clock"].now(),
                                       grace=timedelta(hours=grace_hours), dry_run=dry_run)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if verbose:
        for name in report.deleted + report.deleted_temporary:
            click.echo(name)
    click.echo(report.summary())


@media_cli.command("renditions")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Images to do in this run at most.")
def renditions(limit: int) -> None:
    """Make the srcset renditions (400, 800, 1600 px wide) of images stored before them,
    from their display renditions. Pages serve those images meanwhile; run it again
    until nothing is left."""
    report = service.make_missing_renditions(db.session, current_app.extensions["storage"], limit=limit)
    click.echo(f"made {report.made}, failed {report.failed}, left {report.left}")


def register_media_cli(app: Flask) -> None:
    app.cli.add_command(media_cli)
