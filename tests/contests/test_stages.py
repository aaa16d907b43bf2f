"""Stage derivation is pure: a contest's windows and a moment give its stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contest.clock import LOCAL_TZ
from contest.contests.models import STAGES, Contest
from contest.contests.service import stage_label, stage_of, timeline

NOW = datetime(2023, 5, 16, 10, 0, tzinfo=LOCAL_TZ)
DAY = timedelta(days=1)


def contest_with(**windows: tuple[datetime, datetime]) -> Contest:
    contest = Contest(slug="pure", kind="media", title="纯函数")
    for stage, (start, end) in windows.items():
        setattr(contest, f"{stage}_starts_at", start)
        setattr(contest, f"{stage}_ends_at", end)
    return contest


def sequential() -> Contest:
    """Submission, review and voting one after another, with a gap before judging."""
    return contest_with(
        submission=(NOW - 10 * DAY, NOW - 6 * DAY),
        review=(NOW - 6 * DAY, NOW - 3 * DAY),
        voting=(NOW - 3 * DAY, NOW + 1 * DAY),
        judging=(NOW + 3 * DAY, NOW + 5 * DAY),
        publicity=(NOW + 5 * DAY, NOW + 12 * DAY),
    )


def test_before_every_window_is_upcoming_with_the_first_stage_next():
    contest = sequential()
    info = stage_of(contest, NOW - 20 * DAY)
    assert info.current == "upcoming"
    assert info.active == ()
    assert info.next_stage == "submission"
    assert info.next_at == NOW - 10 * DAY


@pytest.mark.parametrize("offset, expected", [
    (-10 * DAY, "submission"),          # the first instant of a window belongs to it
    (-7 * DAY, "submission"),
    (-6 * DAY, "review"),               # the end instant belongs to the next window
    (-1 * DAY, "voting"),
    (4 * DAY, "judging"),
    (11 * DAY, "publicity"),
])
def test_within_a_window_that_stage_is_current(offset, expected):
    info = stage_of(sequential(), NOW + offset)
    assert info.current == expected
    assert info.active == (expected,)
    assert info.is_active(expected)
    assert not info.is_active("submission" if expected != "submission" else "review")


def test_in_a_gap_between_windows_it_is_between_and_names_the_next_stage():
    info = stage_of(sequential(), NOW + 2 * DAY)
    assert info.current == "between"
    assert info.active == ()
    assert info.next_stage == "judging"
    assert info.next_at == NOW + 3 * DAY


def test_after_every_window_is_closed_with_nothing_next():
    info = stage_of(sequential(), NOW + 12 * DAY)
    assert info.current == "closed"
    assert info.active == ()
    assert info.next_stage is None and info.next_at is None


def test_overlapping_windows_the_later_stage_wins():
    contest = contest_with(
        submission=(NOW - 5 * DAY, NOW + 5 * DAY),
        voting=(NOW - 1 * DAY, NOW + 2 * DAY),
    )
    info = stage_of(contest, NOW)
    assert info.current == "voting"
    assert info.active == ("submission", "voting")
    # once voting ends, submission (still open) is what remains
    assert stage_of(contest, NOW + 3 * DAY).current == "submission"


def test_overlap_decided_by_stage_order_not_by_start_time():
    # judging opened before publicity, but publicity is the later stage
    contest = contest_with(judging=(NOW - 3 * DAY, NOW + 3 * DAY), publicity=(NOW - 1 * DAY, NOW + 1 * DAY))
    assert stage_of(contest, NOW).current == "publicity"


def test_a_contest_without_windows_is_upcoming_and_has_an_empty_timeline():
    contest = contest_with()
    info = stage_of(contest, NOW)
    assert info.current == "upcoming"
    assert info.active == ()
    assert info.next_stage is None
    assert timeline(contest, NOW) == []


def test_a_half_filled_window_is_ignored():
    contest = contest_with(voting=(NOW - DAY, NOW + DAY))
    contest.judging_starts_at = NOW - DAY  # no end: not a window
    info = stage_of(contest, NOW)
    assert info.current == "voting"
    assert [s.stage for s in timeline(contest, NOW)] == ["voting"]


def test_stage_of_accepts_utc_and_local_moments_alike():
    contest = contest_with(voting=(NOW - DAY, NOW + DAY))
    assert stage_of(contest, NOW.astimezone(UTC)).current == "voting"
    # 2023-05-17 10:00 in Shanghai is 02:00 UTC: still before the end
    assert stage_of(contest, datetime(2023, 5, 17, 1, 59, tzinfo=UTC)).current == "voting"
    assert stage_of(contest, datetime(2023, 5, 17, 2, 0, tzinfo=UTC)).current == "closed"


def test_timeline_marks_past_current_and_future_in_order():
    steps = timeline(sequential(), NOW)
    assert [s.stage for s in steps] == list(STAGES)
    assert [s.state for s in steps] == ["past", "past", "current", "future", "future"]
    assert steps[2].starts_at == NOW - 3 * DAY and steps[2].ends_at == NOW + DAY


def test_timeline_orders_by_start_time():
    contest = contest_with(voting=(NOW + DAY, NOW + 2 * DAY), submission=(NOW + 3 * DAY, NOW + 4 * DAY))
    assert [s.stage for s in timeline(contest, NOW)] == ["voting", "submission"]


@pytest.mark.parametrize("stage, label", [
    ("submission", "作品征集"), ("review", "资格审核"), ("voting", "公众投票"), ("judging", "专家评审"),
    ("publicity", "结果公示"), ("upcoming", "即将开始"), ("between", "等待下一阶段"), ("closed", "已结束"),
])
def test_stage_labels_are_chinese(stage, label):
    assert stage_label(stage) == label
