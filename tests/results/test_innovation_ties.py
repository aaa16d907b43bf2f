"""黄炎培: ties are broken by the judges' criterion scores and otherwise shared, as the
published rule says; valid votes never break them."""

from __future__ import annotations

from contest.results.formulas import EntryInput, compute, explain


def project(entry_id: int, votes: int, final: float, tie_break: tuple[float, ...] = ()) -> EntryInput:
    return EntryInput(entry_id, f"项目{entry_id}", 31, votes, {"final": final}, tie_break, group_id=1)


def test_three_projects_at_80_with_5_0_and_0_votes_share_the_place_and_the_award() -> None:
    formula = {"tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 2}]}
    results = {r.entry_id: r for r in compute("innovation", formula, [project(1, 5, 80.0), project(2, 0, 80.0),
                                                                      project(3, 0, 80.0), project(4, 9, 70.0)])}
    assert [(results[i].rank, results[i].tie, results[i].award) for i in (1, 2, 3)] == [(1, "shared", "一等奖")] * 3
    assert (results[4].rank, results[4].tie, results[4].award) == (4, None, None)


def test_criterion_scores_break_a_tie_and_votes_do_not() -> None:
    formula = {"tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 1}]}
    results = {r.entry_id: r for r in compute("innovation", formula, [
        project(1, 100, 85.0, (30.0, 27.0)), project(2, 0, 85.0, (30.0, 28.0)), project(3, 50, 85.0, (30.0, 27.0))])}
    assert (results[2].rank, results[2].tie, results[2].award) == (1, "tie_break", "一等奖")
    # 1 and 3 are equal on the criteria: shared, whatever their votes
    assert [(results[i].rank, results[i].tie, results[i].award) for i in (1, 3)] == [(2, "shared", "二等奖")] * 2


def test_the_published_rule_says_so() -> None:
    text = "\n".join(explain("innovation", None, compute("innovation", None, [project(1, 0, 80.0)]), names={1: "中职组"}))
    assert "同分时比较评审细项得分，仍相同则名次并列" in text
    assert "票" not in text.split("同分时")[1].split("\n")[0]
