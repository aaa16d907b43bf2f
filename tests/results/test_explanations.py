"""Explanations are data: each line is a message id of the English catalogue with its
values, round names among the values, and pages render them through gettext."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask, render_template_string

from contest.results import formulas
from contest.results.formulas import EntryInput, Line, explanation, kind_of, render
from contest.results.kinds.lines import GAP, MATH, RULE, plain_text, templates_of

ROOT = Path(__file__).resolve().parents[2]
with open(ROOT / "contest/translations/en/LC_MESSAGES/messages.po", "rb") as fh:
    CATALOGUE = read_po(fh)
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]")


def english(message: str) -> str:
    found = CATALOGUE.get(message)
    assert found is not None and found.string, f"not in the English catalogue: {message!r}"
    return str(found.string)


def entry(entry_id: int, votes: int, scores: dict[str, float | None], *, category: int | None = None,
          group: int | None = None, tie: tuple[float, ...] = (), title: str = "") -> EntryInput:
    return EntryInput(entry_id, title or f"作品{entry_id}", category, votes, scores, tie, group)


SELECTION_ENTRIES = [
    entry(1, 1000, {"expert": 90}), entry(2, 100, {"expert": 70.5}), entry(3, 450, {"expert": 55.5}),
    entry(4, 200, {"expert": 60}), entry(5, 200, {"expert": 60}), entry(6, 50, {"expert": 80}, tie=(2.0,)),
    entry(7, 50, {"expert": 80}, tie=(1.0,)), entry(8, 1, {"expert": None}),
]
MEDIA_ENTRIES = [
    entry(1, 900, {"jury": 92}, category=1), entry(2, 650, {"jury": None}, category=1),
    entry(3, 5, {"jury": 80}, category=None), entry(4, 0, {"jury": 80}, category=9),
    entry(5, 3, {"jury": 80}, category=9),
]
INNOVATION_ENTRIES = [
    entry(1, 0, {"final": 91}, group=1), entry(2, 0, {"final": 91}, group=1), entry(3, 0, {"final": 70}, group=1),
    entry(4, 0, {"final": None}, group=2), entry(5, 0, {"final": 88}, group=None),
]
# Every branch of every kind's explanation: each rule variant, ties of each sort,
# unscored entries, groups with a name, without a known name and without a category.
SCENARIOS: list[tuple[str, dict[str, Any], list[EntryInput]]] = [
    ("selection", {"awards": [{"name": "最美职校生", "count": 2}, {"name": "提名奖", "percent": 25}]}, SELECTION_ENTRIES),
    ("selection", {"vote_scoring": "rank", "per_category": True}, SELECTION_ENTRIES),
    ("selection", {"vote_weight": 100, "expert_weight": 0}, SELECTION_ENTRIES),
    ("selection", {"vote_weight": 0, "expert_weight": 100}, SELECTION_ENTRIES),
    ("media", {}, MEDIA_ENTRIES),
    ("media", {"exclusive": False, "jury_award": {"name": "评委奖", "percent": 30}}, MEDIA_ENTRIES),
    ("innovation", {}, INNOVATION_ENTRIES),
    ("innovation", {"per_track": True, "tiers": [{"name": "一等奖", "count": 1}]}, INNOVATION_ENTRIES),
]
NAMES = {1: "摄影", 2: "高职组"}
ROUNDS = {"expert": "专家评审", "jury": "评委评审", "final": "决赛评审"}


def explained(kind: str, formula: dict[str, Any], entries: list[EntryInput], **kwargs: Any) -> list[Line]:
    return explanation(kind, formula, formulas.compute(kind, formula, entries), **kwargs)


def every_line() -> list[Line]:
    lines = []
    for kind, formula, entries in SCENARIOS:
        lines += explained(kind, formula, entries, names=NAMES, rounds=ROUNDS)
        lines += explained(kind, formula, entries)
    return lines


def test_scenarios_reach_every_branch() -> None:
    used = {t for line in every_line() for t in templates_of(line)}
    for wanted in ("第 %(r)s 名（%(tie)s）", "与他人总分相同，按专家分排序", "与他人同分，按评审细项得分排序",
                   "与他人同分，按有效票数排序", "并列", "未获奖", "未分类", "#%(id)s", "“%(name)s”轮", "轮次“%(key)s”",
                   "同一作品可同时获得%(jury)s和%(popular)s。", "未参加评委评审", "未参加决赛评审，不参与排名",
                   "%(votes)s→ 投票分 %(vote_score)s；未参加专家评审，不计总分、不参与排名"):
        assert wanted in used, wanted


def test_every_template_is_a_translated_message() -> None:
    for line in every_line():
        for template in templates_of(line):
            english(template)
    for kind in formulas.KINDS:
        english(kind_of(kind).title)


def test_english_rendering_translates_all_but_the_data() -> None:
    # With names that are not Chinese, nothing Chinese is left in English.
    formula = {"awards": [{"name": "Gold", "count": 1}, {"name": "Silver", "percent": 50}], "per_category": True}
    entries = [entry(i, v, {"expert": s}, category=c, title=f"Entry {i}", tie=t)
               for i, v, s, c, t in ((1, 10, 90, 1, ()), (2, 5, 90, 1, ()), (3, 0, None, 1, ()), (4, 7, 60, None, ()),
                                     (5, 7, 60, 3, (1.0,)), (6, 7, 60, 3, (0.0,)))]
    lines = explained("selection", formula, entries, names={1: "Photos"}, rounds={"expert": "Experts"})
    chinese, translated = plain_text(lines), plain_text(lines, english)
    assert len(chinese) == len(translated)
    for line, source, text in zip(lines, chinese, translated, strict=True):
        if line.role != GAP:
            assert not CJK.search(text), text
            assert text != source or not CJK.search(source)
    assert "  Votes 10 (most: 10) → vote score 100.00 × 30% + expert score 90.00 × 70% = 93.00, Rank 1, Gold" in translated
    assert ("  Votes 7 (most: 7) → vote score 100.00 × 30% + expert score 60.00 × 70% = 72.00, "
            "Rank 1 (same score as others, ordered by per-criterion scores), Gold") in translated
    assert "Entries: 3; with a total score: 2; places: Gold: 1, Silver: 1." in translated
    assert "Total = vote score × 30% + expert score × 70%; the expert score is the finalized score of round \"Experts\"." in translated
    assert "[Photos]" in translated and "[Uncategorized]" in translated and "[#3]" in translated


def test_round_names_come_from_params() -> None:
    named = explanation("selection", None, [], rounds={"expert": "专家评审"})
    assert render(named[1]) == "全部作品一起排名评奖。"  # which entries compete together comes first
    rule = named[2]
    assert rule.role == RULE and rule.params["round"] == Line("“%(name)s”轮", {"name": "专家评审"})
    assert render(rule) == "总分 = 投票分 × 30% + 专家分 × 70%；专家分为“专家评审”轮的定稿得分。"
    assert render(rule, english).endswith('the finalized score of round "专家评审".')
    by_key = explanation("selection", None, [])[2]
    assert by_key.params["round"] == Line("轮次“%(key)s”", {"key": "expert"})
    assert render(by_key) == "总分 = 投票分 × 30% + 专家分 × 70%；专家分为轮次“expert”的定稿得分。"
    # A round's name is a value: text that merely looks like another round's key is left alone.
    odd = explanation("media", None, [], rounds={"jury": "轮次“final”"})[2]
    assert render(odd).startswith("评委奖：按“轮次“final””轮的定稿得分排名")
    final = explanation("innovation", None, [], rounds={"final": "国赛决赛"})[2]
    assert render(final) == "成绩 = “国赛决赛”轮（决赛）的定稿得分；同分时比较评审细项得分，仍相同则名次并列。"


def test_plain_text_indents_the_arithmetic() -> None:
    lines = explained("innovation", {}, INNOVATION_ENTRIES, names=NAMES)
    text = plain_text(lines)
    assert text == formulas.explain("innovation", {}, formulas.compute("innovation", {}, INNOVATION_ENTRIES), names=NAMES)
    assert [t for line, t in zip(lines, text, strict=True) if line.role == MATH][0] == "  决赛得分 91.00，第 1 名（并列） → 一等奖"
    assert [t for line, t in zip(lines, text, strict=True) if line.role == GAP] == ["", "", ""]


@pytest.mark.parametrize("translated", [False, True])
def test_pages_render_lines_through_gettext(app: Flask, monkeypatch: pytest.MonkeyPatch, translated: bool) -> None:
    if translated:
        monkeypatch.setattr("contest.i18n.gettext", english)
    lines = explanation("media", None, [], rounds={"jury": "评委评审"})
    with app.test_request_context("/"):
        shown = render_template_string("{% for line in lines %}<li>{{ line|explained }}</li>{% endfor %}", lines=lines)
    first = "评委奖: ranked by the finalized scores of round \"评委评审\"" if translated else "评委奖：按“评委评审”轮的定稿得分排名"
    assert f"<li>{first}" in shown.replace("&#34;", '"')
    assert ("Valid votes count only" in shown) is translated
