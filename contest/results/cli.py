"""flask results compute | formula: the preview and the formula from the command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..accounts.actors import SYSTEM
from ..contests import service as contests
from ..errors import DomainError
from ..extensions import db
from . import exports, formulas
from . import service as results

results_cli = AppGroup("results", help="Compute results and manage result formulas.")


def _now() -> datetime:
    return current_app.extensions["clock"].now()


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _cell(value: Any) -> str:
    return formulas.format_score(value) if isinstance(value, int | float) else "—"


@results_cli.command("compute")
@click.argument("slug")
@click.option("--explain", is_flag=True, help="Also print how every number was computed.")
def compute_command(slug: str, explain: bool) -> None:
    """Print the results as they would be published now (nothing is stored)."""
    try:
        contest = contests.get_contest(db.session, slug, include_unpublished=True)
        comp = results.compute(db.session, contest)
    except DomainError as exc:
        _fail(exc.message)
    rows = results.breakdown_rows(comp)
    click.echo(f"{contest.title}（{slug}）公式指纹 {formulas.display_fingerprint(comp.fingerprint)}")
    round_names = [(r.key, r.name) for r in comp.rounds]
    with_vote_score = formulas.kind_of(contest.kind).has_vote_score
    header = ["名次", "作品", "有效票"] + (["投票分"] if with_vote_score else [])
    header += [name for _key, name in round_names] + ["最终得分", "奖项"]
    click.echo("\t".join(header))
    for row in rows:
        line = [str(row["rank"]) if row["rank"] is not None else "—", f"#{row['entry_id']} {row['title']}",
                str(row["valid_votes"])]
        if with_vote_score:
            line.append(_cell(row["vote_score"]))
        line += [_cell(row["round_scores"].get(key)) for key, _name in round_names]
        line += [_cell(row["final_score"]), "、".join(row["awards"]) or "—"]
        click.echo("\t".join(line))
    if explain:
        click.echo("")
        for text in exports.explain_lines(comp):
            click.echo(text)
    if comp.warnings:
        click.echo("")
        click.echo("不能发布，原因：")
        for warning in comp.warnings:
            click.echo(f"  - {warning}")
    else:
        click.echo("")
        click.echo("没有阻止发布的问题。")


@results_cli.command("formula")
@click.argument("slug")
@click.option("--set-json", "set_json", default=None, metavar="JSON", help="The new formula as a JSON object.")
@click.option("--override", is_flag=True, help="A special change after voting opened (shown publicly).")
@click.option("--reason", default="", help="Why (required with --override, at least 5 characters; public).")
def formula_command(slug: str, set_json: str | None, override: bool, reason: str) -> None:
    """Show a contest's formula and fingerprint, or set it with --set-json (audit-logged)."""
    try:
        contest = contests.get_contest(db.session, slug, include_unpublished=True)
        if set_json is None:
            formula, fingerprint = results.formula_of(db.session, contest)
            click.echo(json.dumps(formula, ensure_ascii=False, indent=2))
            click.echo(f"指纹 {fingerprint}")
            return
        try:
            wanted = json.loads(set_json)
        except ValueError as exc:
            _fail(f"JSON 格式有误：{exc}")
        if not isinstance(wanted, dict):
            _fail("计分公式应为一个 JSON 对象。")
        before = results.formula_of(db.session, contest)[1]
        stored = results.set_formula(db.session, actor=SYSTEM, contest=contest, formula=wanted, now=_now(),
                                     reason=reason, override=override)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    db.session.commit()
    if stored.fingerprint == before:
        click.echo("公式没有变化。")
    else:
        click.echo(f"指纹 {before} → {stored.fingerprint}")


def register_results_cli(app: Flask) -> None:
    app.cli.add_command(results_cli)
