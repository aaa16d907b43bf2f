"""Demo judging for the three demo contests, through the same service the pages use:

- 黄炎培: 网评 (online review, 5 judges per project, finalised) → 决赛路演 (live final with
  all 7 judges, open: two projects scored, the third on stage).
- 最美职校生: 专家评审 (finalised: the contest is in its 公示 stage).
- 全民美拍: 评委评审 (jury round, open, half scored).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..accounts.actors import SYSTEM
from ..accounts.models import User
from ..contests.models import Contest, Entry, School
from ..db import SessionLike
from . import service as judging
from .models import JudgeProfile, Round

INNOVATION_RUBRIC = (
    ("创新性", "理念、技术或模式的新颖程度", 25),
    ("商业可行性", "市场分析、商业模式与财务测算", 25),
    ("团队", "分工、能力结构与执行力", 20),
    ("社会价值", "对就业、乡村振兴与绿色发展的带动", 15),
    ("路演表现", "表达清晰、答辩准确", 15),
)
FINAL_RUBRIC = (
    ("创新性", "理念、技术或模式的新颖程度", 20),
    ("商业可行性", "市场分析、商业模式与财务测算", 25),
    ("团队", "分工、能力结构与执行力", 15),
    ("社会价值", "对就业、乡村振兴与绿色发展的带动", 15),
    ("现场路演", "陈述、展示与时间把控", 15),
    ("答辩", "回答评委提问的准确与深度", 10),
)
SELECTION_RUBRIC = (
    ("技能水平", "专业技能与竞赛成绩", 30),
    ("品德修养", "品行、志愿服务与担当", 25),
    ("成长经历", "逆境成长与自我突破", 20),
    ("示范引领", "对同学和社会的带动作用", 15),
    ("材料质量", "事迹材料的真实、完整与感染力", 10),
)
JURY_RUBRIC = (
    ("主题契合", "体现“技能：让生活更美好”", 30),
    ("艺术表现", "构图、光影、剪辑与叙事", 30),
    ("技术质量", "清晰度、曝光与声音", 20),
    ("感染力", "打动人心的程度", 20),
)


def _criteria(rubric: Sequence[tuple[str, str, int]]) -> list[judging.CriterionFields]:
    # Maximum equals weight: a judge scores each line out of its share of 100.
    return [judging.CriterionFields(name, weight, weight, description) for name, description, weight in rubric]


def _score(rng: random.Random, rnd: Round, quality: float, bias: float) -> dict[str, float]:
    step = rnd.score_step
    values = {}
    for criterion in rnd.criteria:
        share = min(1.0, max(0.2, quality + bias + rng.gauss(0, 0.06)))
        values[str(criterion.id)] = round(criterion.maximum * share / step) * step
    return values


def _round(session: SessionLike, contest: Contest, key: str, name: str, rubric: Sequence[tuple[str, str, int]],
           now: datetime, **fields: Any) -> Round:
    return judging.create_round(session, actor=SYSTEM, contest=contest, now=now, criteria=_criteria(rubric),
                                fields=judging.RoundFields(key=key, name=name, **fields))


def _panel(session: SessionLike, rnd: Round, judges: Sequence[User], now: datetime) -> None:
    for judge in judges:
        judging.add_judge(session, actor=SYSTEM, rnd=rnd, user=judge, now=now)


def _declare(session: SessionLike, rnd: Round, judges: Sequence[User], now: datetime) -> None:
    for judge in judges:
        judging.sign_declaration(session, judge=judge, rnd=rnd, accepted=True, now=now, ip="127.0.0.1")


def _score_all(session: SessionLike, rnd: Round, judges: Sequence[User], quality: dict[int, float], rng: random.Random,
               now: datetime, only: set[int] | None = None, share: float = 1.0) -> None:
    biases = {judge.id: rng.uniform(-0.08, 0.08) for judge in judges}
    for judge in judges:
        items = judging.judge_queue(session, judge=judge, rnd=rnd)
        for item in items[: max(1, round(len(items) * share))] if share < 1 else items:
            if only is not None and item.entry.id not in only:
                continue
            judging.save_score(session, judge=judge, rnd=rnd, entry_id=item.entry.id,
                               raw_values=_score(rng, rnd, quality[item.entry.id], biases[judge.id]),
                               comment="", submit=True, now=now)


def _of_kind(contests: dict[str, Contest], kind: str) -> Contest:
    """The demo's contest of a kind (there is one of each), whatever its slug."""
    return next(c for c in contests.values() if c.kind == kind)


def seed_judging(session: SessionLike, contests: dict[str, Contest], judges: Sequence[User], schools: dict[str, School],
                 now: datetime) -> None:
    rng = random.Random(2023)  # nosec B311
    # Two judges teach at schools taking part: their own school's entries are conflicts.
    for judge, school_name in zip(judges[:2], ("济南职业学院", "济南市历城职业中等专业学校"), strict=True):
        if school_name in schools and session.get(JudgeProfile, judge.id) is None:
            session.add(JudgeProfile(user_id=judge.id, organisation=school_name, title="教授",
                                     school_id=schools[school_name].id))
    for judge in judges[2:]:
        if session.get(JudgeProfile, judge.id) is None:
            session.add(JudgeProfile(user_id=judge.id, organisation="济南市职业教育专家库", title="高级工程师"))
    session.flush()

    def entries(contest: Contest) -> list[Entry]:
        return list(session.scalars(select(Entry).where(Entry.contest_id == contest.id, Entry.status == "approved")
                                    .order_by(Entry.id)))

    # 黄炎培: online review (finalised) and the live final (open, the third project on stage).
    innovation = _of_kind(contests, "innovation")
    projects = entries(innovation)
    quality = {e.id: rng.uniform(0.55, 0.92) for e in projects}
    online = _round(session, innovation, "online", "网络评审", INNOVATION_RUBRIC, now, judges_per_entry=5,
                    aggregation="trimmed", normalise=True, blind=True, position=0, min_scores=4)
    judging.add_entries(session, actor=SYSTEM, rnd=online, entry_ids=[e.id for e in projects], now=now)
    _panel(session, online, judges, now)
    judging.set_state(session, actor=SYSTEM, rnd=online, state="open", now=now)
    _declare(session, online, judges, now)
    _score_all(session, online, judges, quality, rng, now)
    judging.set_state(session, actor=SYSTEM, rnd=online, state="closed", now=now)
    judging.set_state(session, actor=SYSTEM, rnd=online, state="finalised", now=now)
    final = _round(session, innovation, "final", "决赛路演", FINAL_RUBRIC, now, kind="live", judges_per_entry=7,
                   aggregation="trimmed", blind=False, position=1)
    judging.advance(session, actor=SYSTEM, rnd=online, target=final, top_n=6, now=now)
    _panel(session, final, judges, now)
    judging.set_state(session, actor=SYSTEM, rnd=final, state="open", now=now)
    _declare(session, final, judges, now)
    finalists = judging.round_entries(session, final)
    for entry in finalists[:2]:
        judging.set_live_entry(session, actor=SYSTEM, rnd=final, entry_id=entry.id, now=now)
        for judge in judges:
            if judging.membership(session, final, judge) is not None and any(
                item.entry.id == entry.id for item in judging.judge_queue(session, judge=judge, rnd=final)
            ):
                judging.save_score(session, judge=judge, rnd=final, entry_id=entry.id,
                                   raw_values=_score(rng, final, quality[entry.id], rng.uniform(-0.05, 0.05)),
                                   submit=True, now=now)
    if len(finalists) > 2:
        judging.set_live_entry(session, actor=SYSTEM, rnd=final, entry_id=finalists[2].id, now=now)

    # 最美职校生: the experts' review is final (the contest is in 公示).
    selection = _of_kind(contests, "selection")
    nominees = entries(selection)
    quality = {e.id: rng.uniform(0.6, 0.95) for e in nominees}
    expert = _round(session, selection, "expert", "专家评审", SELECTION_RUBRIC, now, judges_per_entry=5,
                    aggregation="trimmed", blind=False, position=0)
    judging.add_entries(session, actor=SYSTEM, rnd=expert, entry_ids=[e.id for e in nominees], now=now)
    _panel(session, expert, judges, now)
    judging.set_state(session, actor=SYSTEM, rnd=expert, state="open", now=now)
    _declare(session, expert, judges, now)
    _score_all(session, expert, judges, quality, rng, now)
    judging.set_state(session, actor=SYSTEM, rnd=expert, state="closed", now=now)
    judging.set_state(session, actor=SYSTEM, rnd=expert, state="finalised", now=now)

    # 全民美拍: the jury is at work (half of the scores are in).
    media = _of_kind(contests, "media")
    works = entries(media)
    quality = {e.id: rng.uniform(0.5, 0.95) for e in works}
    jury = _round(session, media, "jury", "评委评审", JURY_RUBRIC, now, judges_per_entry=3, aggregation="mean",
                  blind=True, position=0)
    judging.add_entries(session, actor=SYSTEM, rnd=jury, entry_ids=[e.id for e in works], now=now)
    _panel(session, jury, judges[2:], now)
    judging.set_state(session, actor=SYSTEM, rnd=jury, state="open", now=now)
    _declare(session, jury, judges[2:], now)
    _score_all(session, jury, judges[2:], quality, rng, now, share=0.5)
    session.flush()
