"""The publication's bundle and verifier/verify.py --bundle: a published season's results
recompute from the downloaded bundle with no difference, run as its own process with the
standard library only; a changed vote count and a changed judge's mark are each caught and
named; judges appear only under aliases; minors' withheld counts are not in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from contest.extensions import db
from contest.judging import service as judging
from contest.results import service as results
from tests.results.test_minor_counts_underivable import ADULTS, MINORS, build

VERIFIER = Path(__file__).parents[2] / "verifier" / "verify.py"


def verify(tmp_path: Path, bundle: dict[str, Any], *more: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    # -I: the script's own directory only, no site packages: it must need nothing else
    return subprocess.run([sys.executable, "-I", str(VERIFIER), "--bundle", str(path), *more],
                          capture_output=True, text=True, timeout=120)


def download(client: FlaskClient, slug: str) -> dict[str, Any]:
    response = client.get(f"/c/{slug}/results/bundle.json")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


@pytest.fixture
def season(make_contest, make_entry, make_school, make_user, clock):  # type: ignore[no-untyped-def]
    """最美职校生, votes by rank, nobody's count withheld."""
    return build(make_contest, make_entry, make_school, make_user, clock, "rank", hide=False)


def test_a_published_season_recomputes_from_its_bundle(client, season, tmp_path):
    contest, entries = season
    bundle = download(client, contest.slug)
    publication = results.current_publication(db.session, contest)
    assert publication is not None
    assert bundle["formula"]["fingerprint"] == publication.fingerprint
    assert bundle["ledger_head"] == publication.ledger_head and bundle["withheld"] == []
    assert {v["entry_id"]: v["valid_votes"] for v in bundle["votes"]} == {
        entries[t].id: votes for t, (_born, votes, _score) in {**ADULTS, **MINORS}.items()}
    result = verify(tmp_path, bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    results v1: formula fingerprint" in result.stdout
    assert "ok    results v1: 6 entries' ranks, scores and awards recompute as published" in result.stdout


def test_a_changed_vote_and_a_changed_mark_are_caught_and_named(client, season, tmp_path):
    contest, entries = season
    bundle = download(client, contest.slug)
    target = entries["数控追梦人"].id  # 8 votes: changed to 11, above the top adult
    tampered = json.loads(json.dumps(bundle))
    next(v for v in tampered["votes"] if v["entry_id"] == target)["valid_votes"] = 11
    result = verify(tmp_path, tampered)
    assert result.returncode == 1, result.stdout
    assert f"FAIL  results v1: entry #{target} 数控追梦人: valid votes in the row 8, in the counted votes 11" in result.stdout
    assert f"FAIL  results v1: entry #{target} 数控追梦人: vote score published" in result.stdout

    judged = entries["汽修小能手"].id  # an expert score of 75, lowered to 60
    tampered = json.loads(json.dumps(bundle))
    mark = next(m for m in tampered["rounds"][0]["marks"] if m["entry_id"] == judged)
    mark["values"]["c1"] = 60.0
    result = verify(tmp_path, tampered)
    assert result.returncode == 1, result.stdout
    assert (f"FAIL  results v1: entry #{judged} 汽修小能手: round expert score published 75.0, "
            "the judges' marks give 60.0") in result.stdout
    assert f"FAIL  results v1: entry #{judged} 汽修小能手: final score published" in result.stdout

    tampered = json.loads(json.dumps(bundle))
    tampered["formula"]["canonical"] = tampered["formula"]["canonical"].replace('"vote_weight":30', '"vote_weight":40')
    result = verify(tmp_path, tampered)
    assert result.returncode == 1 and "FAIL  results v1: formula fingerprint" in result.stdout, result.stdout


def test_judges_appear_only_under_aliases(client, season):
    contest, _entries = season
    rnd = next(r for r in judging.rounds_of(db.session, contest) if r.key == "expert")
    judge = judging.submitted_score_rows(db.session, rnd)[0].judge
    judge.display_name = "王评审"
    db.session.commit()
    response = client.get(f"/c/{contest.slug}/results/bundle.json")
    text = response.get_data(as_text=True)
    assert "王评审" not in text and judge.phone not in text
    bundle = json.loads(text)
    assert {m["judge"] for m in bundle["rounds"][0]["marks"]} == {"评委 A"}
    assert all(set(m) == {"entry_id", "judge", "values"} for m in bundle["rounds"][0]["marks"])


def test_the_bundle_is_linked_and_cacheable(client, season):
    contest, _entries = season
    page = client.get(f"/c/{contest.slug}/results").get_data(as_text=True)
    assert f"/c/{contest.slug}/results/bundle.json?version=1" in page
    response = client.get(f"/c/{contest.slug}/results/bundle.json?version=1")
    assert "public" in response.headers["Cache-Control"] and response.headers["ETag"]
    assert "attachment" in response.headers["Content-Disposition"]
    again = client.get(f"/c/{contest.slug}/results/bundle.json?version=1", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/c/{contest.slug}/results/bundle.json?version=7").status_code == 404


def test_withheld_minors_counts_are_absent_and_the_rest_recomputes(client, make_contest, make_entry, make_school,
                                                                  make_user, clock, tmp_path):
    contest, entries = build(make_contest, make_entry, make_school, make_user, clock, "max")
    bundle = download(client, contest.slug)
    minors = {entries[t].id for t in MINORS}
    assert set(bundle["withheld"]) == minors
    assert not minors & {v["entry_id"] for v in bundle["votes"]}
    assert not minors & {m["entry_id"] for r in bundle["rounds"] for m in r["marks"]}
    assert bundle["rounds"][0]["withheld_marks"] == len(minors)
    for row in bundle["rows"]:
        if row["entry_id"] in minors:
            assert not {"valid_votes", "vote_score", "round_scores"} & set(row), row
            # the total as the page shows it: two decimals
            assert row["final_score"] == round(row["final_score"], 2)
    # their votes' events are not published either; the others' re-derive the published counts
    events = client.get(bundle["events"]["href"]).get_data(as_text=True)
    assert not minors & {json.loads(line)["fields"]["entry"] for line in events.splitlines()}
    (tmp_path / "events.jsonl").write_text(events, encoding="utf-8")
    result = verify(tmp_path, bundle, "--events", str(tmp_path / "events.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    results v1: no withheld entry's count or scores in the bundle" in result.stdout
    assert "note  results v1: 3 withheld entries" in result.stdout
    assert "pseudonymous voters re-derive every entry's counted votes" in result.stdout

    # a withheld entry given a better total than it has is caught through its rank
    tampered = json.loads(json.dumps(bundle))
    last = max((r for r in tampered["rows"] if r["entry_id"] in minors), key=lambda r: r["rank"])
    last["final_score"] = 99.0
    result = verify(tmp_path, tampered)
    assert result.returncode == 1 and "rank published" in result.stdout, result.stdout


def test_the_transparency_page_lists_published_heads_and_offers_the_verifier(client, season):
    contest, _entries = season
    publication = results.current_publication(db.session, contest)
    assert publication is not None and publication.ledger_head
    page = client.get(f"/c/{contest.slug}/transparency").get_data(as_text=True)
    head = publication.ledger_head
    assert f"#{head['height']}" in page and f'<code class="hash">{head["hash"]}</code>' in page
    assert f"/c/{contest.slug}/results/events.jsonl?version={publication.version}" in page
    script = client.get("/verify.py")
    assert script.status_code == 200 and "attachment" in script.headers["Content-Disposition"]
    assert script.data == VERIFIER.read_bytes()


def test_the_events_download_is_cacheable_and_answers_304(client, season):
    contest, _entries = season
    first = client.get(f"/c/{contest.slug}/results/events.jsonl")
    assert first.status_code == 200 and "public" in first.headers["Cache-Control"] and first.headers["ETag"]
    lines = [json.loads(line) for line in first.get_data(as_text=True).splitlines()]
    assert [line["leaf"] for line in lines] == sorted(line["leaf"] for line in lines)
    assert client.get(f"/c/{contest.slug}/results/events.jsonl",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(f"/c/{contest.slug}/results/events.jsonl?version=9").status_code == 404
