"""`flask demo` seeds a working 2023 week: the three contests in their stages, judging
rounds, votes in a ledger that verifies, and the 最美职校生 results in 公示."""

from __future__ import annotations

from sqlalchemy import func, select

from contest.contests import service as contests
from contest.extensions import db
from contest.judging import service as judging
from contest.results import service as results
from contest.voting.models import Vote


def test_demo_seeds_every_stage_and_a_verifiable_ledger(app, client, runner) -> None:  # type: ignore[no-untyped-def]
    seeded = runner.invoke(args=["demo"])
    assert seeded.exit_code == 0, seeded.output
    for slug in ("meipai-2023", "zuimei-2023", "huangyanpei-2023"):
        assert f"/c/{slug}" in seeded.output

    rounds = {(r.contest.slug, r.key): r for slug in ("meipai-2023", "zuimei-2023", "huangyanpei-2023")
              for r in judging.rounds_of(db.session, contests.get_contest(db.session, slug))}
    assert {key: r.state for key, r in rounds.items()} == {
        ("meipai-2023", "jury"): "open", ("zuimei-2023", "expert"): "finalised",
        ("huangyanpei-2023", "online"): "finalised", ("huangyanpei-2023", "final"): "open",
    }
    final = rounds[("huangyanpei-2023", "final")]
    assert final.live_entry_id is not None
    assert len(judging.live_board(db.session, final).ranking) == 2
    plan = judging.assignment_report(db.session, rounds[("huangyanpei-2023", "online")])
    assert plan.balanced and not plan.shortfalls

    selection = contests.get_contest(db.session, "zuimei-2023")
    publication = results.current_publication(db.session, selection)
    assert publication is not None and publication.state == "publicity"
    assert publication.requested_by_id != publication.confirmed_by_id
    statuses = dict(db.session.execute(select(Vote.status, func.count()).group_by(Vote.status)).all())
    assert statuses["valid"] > 500 and statuses["voided"] == 9 and statuses.get("held", 0) == 0

    verified = runner.invoke(args=["votes", "verify"])
    assert verified.exit_code == 0, verified.output

    page = client.get("/c/zuimei-2023/results")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "公示" in text and "最美职校生" in text
    assert client.get("/c/zuimei-2023/transparency").status_code == 200
    assert client.get("/c/meipai-2023/leaderboard").status_code == 200

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already there" in again.output


def test_demo_is_refused_in_production(app, runner) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from contest.accounts.models import User

    app.extensions["settings"] = replace(app.extensions["settings"], env="production")
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0 and "CONTEST_ENV=production" in refused.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
