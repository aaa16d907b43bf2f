"""A large contest's results page shows its ranking 100 rows a page, each table (one per
category where awards go per category) paged by a query argument of its own, and every
page's rows and counts are the published ones, as the bundle gives them; the
transparency page's tables are paged the same way."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from contest.accounts.actors import SYSTEM
from contest.extensions import db
from contest.results import service as results
from contest.results.models import Publication
from contest.voting import ledger
from contest.voting import service as voting

ROW = re.compile(r'<tr data-entry="(\d+)"')


def publish(contest, now) -> Publication:
    """Compute and store the results as published (the service's own request needs a
    jury round this test has no use for)."""
    ledger.seal_pending(db.session, now=now + ledger.SEAL_GRACE)
    comp = results.compute(db.session, contest)
    publication = Publication(
        contest_id=contest.id, version=1, state="publicity", formula=comp.formula, fingerprint=comp.fingerprint,
        ledger_head=comp.tally.head_info(), rows=results.breakdown_rows(comp), rounds=[], computed_at=now,
        requested_at=now, confirmed_at=now, publicity_ends_at=now + timedelta(days=5), publicity_days=5)
    db.session.add(publication)
    db.session.commit()
    return publication


def ranking(html: str) -> str:
    return html[html.index('id="ranking-title"'):html.index('id="objections"')]


def test_the_ranking_is_paged_and_every_page_agrees_with_the_bundle(client, make_contest, make_entry, make_user,
                                                                       clock):
    contest = make_contest(kind="media", stage="voting")
    photo, video = (c.id for c in contest.categories_of("category"))
    entries = [make_entry(contest, category_id=photo if i < 230 else video) for i in range(235)]
    for i, entry in enumerate(entries[:12]):
        for _ in range(i % 4 + 1):
            voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now())
            db.session.commit()
    clock.set(contest.voting_ends_at + timedelta(hours=1))
    publication = publish(contest, clock.now())
    bundle = json.loads(client.get(f"/c/{contest.slug}/results/bundle.json").get_data())
    published = {int(r["entry_id"]): r for r in bundle["rows"]}
    assert len(published) == 235
    counted = {v["entry_id"]: v["valid_votes"] for v in bundle["votes"]}

    first = client.get(f"/c/{contest.slug}/results").get_data(as_text=True)
    tables = ranking(first).split("<caption>")[1:]
    assert len(tables) == 2 and tables[0].startswith("摄影作品 排名") and tables[1].startswith("短视频 排名")
    assert len(ROW.findall(tables[0])) == 100 and len(ROW.findall(tables[1])) == 5
    assert "第 1 / 3 页" in tables[0] and "page_1=2" in tables[0] and "page_2=" not in ranking(first)
    seen = []
    for page in (1, 2, 3):
        html = client.get(f"/c/{contest.slug}/results?page_1={page}").get_data(as_text=True)
        photo_table = ranking(html).split("<caption>")[1]
        rows = ROW.findall(photo_table)
        assert len(rows) == (100 if page < 3 else 30)
        assert f"第 {page} / 3 页" in photo_table and ("上一页" in photo_table) == (page > 1)
        for entry_id in map(int, rows):
            cells = photo_table[photo_table.index(f'<tr data-entry="{entry_id}"'):]
            votes = re.search(r'data-label="有效票数">(\d+)<', cells)
            assert votes is not None and int(votes.group(1)) == counted.get(entry_id, 0) == \
                int(published[entry_id]["valid_votes"] or 0)
        seen += map(int, rows)
        assert len(ROW.findall(ranking(html).split("<caption>")[2])) == 5  # the other table stays on its page
    photo_rows = sorted((r for r in publication.rows if r["category"] == "摄影作品"),
                        key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r.get("title", "")))
    assert seen == [int(r["entry_id"]) for r in photo_rows]  # every row once, in rank order
    # a page past the end shows the last
    past = ranking(client.get(f"/c/{contest.slug}/results?page_1=99").get_data(as_text=True)).split("<caption>")[1]
    assert [int(e) for e in ROW.findall(past)] == seen[200:] and "第 3 / 3 页" in past


def test_the_transparency_tables_are_paged(client, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(105)]
    votes = []
    for entry in entries:
        votes.append(voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now()).vote.id)
        db.session.commit()
    voting.change_status(db.session, actor=SYSTEM, vote_ids=votes, to="voided", reason="异常集中投票", now=clock.now())
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/transparency").get_data(as_text=True)
    voided = html[html.index('id="voided-title"'):html.index('id="held-title"')]
    assert len(ROW.findall(voided)) == 100 and "第 1 / 2 页" in voided and "?page=2#voided-title" in voided
    assert "<dd>105</dd>" in html  # the totals count every row, not the page's
    second = client.get(f"/c/{contest.slug}/transparency?page=2").get_data(as_text=True)
    rest = ROW.findall(second[second.index('id="voided-title"'):second.index('id="held-title"')])
    assert len(rest) == 5 and not set(rest) & set(ROW.findall(voided))
    assert {int(e) for e in rest + ROW.findall(voided)} == {e.id for e in entries}


def test_the_chart_of_votes_per_day_is_made_when_results_are_confirmed(client, make_contest, make_entry, make_school,
                                                                       make_user, clock):
    from contest.results import service as results_service
    from tests.results.test_minor_counts_underivable import build

    contest, _entries = build(make_contest, make_entry, make_school, make_user, clock, "rank")
    publication = results_service.current_publication(db.session, contest)
    assert publication is not None and publication.daily is not None
    hidden = set(publication.daily["leave_out"])
    assert hidden  # the minors' counts stay private, and so do their days
    counted = results_service._published_days_counted(db.session, contest, publication, hidden)
    assert [tuple(day) for day in publication.daily["days"]] == counted and len(counted) == 2
    # the page charts the stored days (no count of the ledger on a visitor's request)
    publication.daily = {**publication.daily, "days": [[day, 1000 + n] for day, n in counted]}
    db.session.commit()
    page = client.get(f"/c/{contest.slug}/results").get_data(as_text=True)
    assert f"共 {2000 + sum(n for _d, n in counted)} 张有效票" in page
