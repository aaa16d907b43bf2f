"""The verifier recomputes rounds scored by several judges under each aggregation the
platform offers — trimmed mean (the highest and lowest of five marks dropped), median,
and normalised totals (each calibrated judge rescaled to the round's mean and spread) —
from the bundle alone, with no difference; a changed mark is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.extensions import db
from contest.judging import service as judging
from contest.results import service as results
from contest.voting import ledger
from contest.voting import service as voting

VERIFIER = Path(__file__).parents[2] / "verifier" / "verify.py"
# five judges' marks for six entries, out of 100: spreads, ties in the middle and one
# harsh judge (the fifth), so each aggregation gives other scores than the plain mean
MARKS = {
    "青春焊花": (88, 90, 91, 70, 60), "数控之星": (85, 92, 80, 95, 55), "护理天使": (75, 75, 78, 74, 50),
    "烹饪达人": (90, 60, 88, 87, 62), "汽修能手": (70, 72, 71, 73, 40), "电商新秀": (65, 80, 66, 64, 45),
}
VOTES = {"青春焊花": 4, "数控之星": 2, "护理天使": 3, "烹饪达人": 1, "汽修能手": 0, "电商新秀": 2}


def season(make_contest, make_entry, make_school, make_user, clock, aggregation: str, normalise: bool):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="selection", stage="voting", categories=())
    # the nominees' ages are not given: keep no count private, so every mark is in the bundle
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"hide_minor_vote_counts": False},
                       now=clock.now())
    school = make_school("济南商贸学校")
    entries = {title: make_entry(contest, title=title, school=school, nominee=f"{title}选手") for title in MARKS}
    db.session.commit()
    for title, n in VOTES.items():
        for _ in range(n):
            voting.record_vote(db.session, voter=make_user(), entry_id=entries[title].id, now=clock.now())
    db.session.commit()
    clock.set(contest.voting_ends_at)
    clock.advance(hours=1)
    ledger.seal_pending(db.session, now=clock.now())
    organisers = (make_user("organiser"), make_user("organiser"))
    now = clock.now()
    rnd = judging.create_round(db.session, actor=organisers[0], contest=contest, now=now,
                               criteria=[judging.CriterionFields("专业技能", 60, 60),
                                         judging.CriterionFields("综合素养", 40, 40)],
                               fields=judging.RoundFields(key="expert", name="专家评审", judges_per_entry=5,
                                                          aggregation=aggregation, normalise=normalise, min_scores=5,
                                                          score_step=0.5))
    judging.add_entries(db.session, actor=organisers[0], rnd=rnd, entry_ids=[e.id for e in entries.values()], now=now)
    judges = [make_user("judge") for _ in range(5)]
    for judge in judges:
        judging.add_judge(db.session, actor=organisers[0], rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=organisers[0], rnd=rnd, state="open", now=now)
    skill, manner = rnd.criteria
    for number, judge in enumerate(judges):
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
        for title, marks in MARKS.items():
            total = marks[number]  # split 60 / 40 of the total, on the half-point step
            values = {str(skill.id): round(total * 0.6 * 2) / 2, str(manner.id): round(total * 0.4 * 2) / 2}
            judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entries[title].id, raw_values=values,
                               submit=True, now=now)
    judging.set_state(db.session, actor=organisers[0], rnd=rnd, state="closed", now=now)
    judging.set_state(db.session, actor=organisers[0], rnd=rnd, state="finalised", now=now)
    publication = results.request_publication(db.session, actor=organisers[0], contest=contest, now=now)
    results.confirm_publication(db.session, actor=organisers[1], publication=publication, now=now)
    db.session.commit()
    return contest, entries


def verify(tmp_path: Path, bundle: dict, *more: str) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([sys.executable, "-I", str(VERIFIER), "--bundle", str(path), *more],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("aggregation", "normalise"), [("trimmed", False), ("median", False), ("mean", True),
                                                         ("trimmed", True)])
def test_each_aggregation_recomputes_from_the_bundle(client, make_contest, make_entry, make_school, make_user, clock,
                                                     tmp_path, aggregation, normalise):
    contest, entries = season(make_contest, make_entry, make_school, make_user, clock, aggregation, normalise)
    bundle = client.get(f"/c/{contest.slug}/results/bundle.json").get_json()
    rnd = bundle["rounds"][0]
    assert (rnd["aggregation"], rnd["normalise"], len(rnd["marks"])) == (aggregation, normalise, 30)
    scores = {row["entry_id"]: row["round_scores"]["expert"] for row in bundle["rows"]}
    mean_of = {entries[t].id: sum(m) / 5 for t, m in MARKS.items()}
    assert any(abs(scores[e] - mean_of[e]) > 0.01 for e in scores)  # not the plain mean in disguise
    (tmp_path / "events.jsonl").write_bytes(client.get(bundle["events"]["href"]).data)
    result = verify(tmp_path, bundle, "--events", str(tmp_path / "events.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    results v1: 6 entries' ranks, scores and awards recompute as published" in result.stdout
    assert "scores taken as published" not in result.stdout

    judged = entries["护理天使"].id
    tampered = json.loads(json.dumps(bundle))
    mark = next(m for m in tampered["rounds"][0]["marks"] if m["entry_id"] == judged and m["judge"] == "评委 C")
    mark["values"]["c1"] = 20.0
    result = verify(tmp_path, tampered)
    assert result.returncode == 1, result.stdout
    assert f"FAIL  results v1: entry #{judged} 护理天使: round expert score published" in result.stdout
