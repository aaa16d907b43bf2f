"""The server-drawn SVG charts: round tick steps, the value axis and the bars' geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from contest.admin.fraud_presenters import hour_chart
from contest.charts import Frame, Tick, ValueAxis, nice_step
from contest.results.presenters import day_chart
from contest.voting.review import HourBucket


@pytest.mark.parametrize(("peak", "step"), [(0, 1), (1, 1), (4, 1), (7, 2), (10, 5), (40, 10), (130, 50), (9999, 5000)])
def test_the_step_is_1_2_or_5_times_a_power_of_ten(peak: int, step: int) -> None:
    assert nice_step(peak) == step
    assert isinstance(nice_step(peak), int)


def test_the_axis_ends_on_a_whole_step_above_the_largest_value() -> None:
    axis = ValueAxis.fit(130, top=12, height=180)
    assert (axis.step, axis.peak, axis.base) == (50, 150, 192)
    assert axis.ticks() == [Tick(192, "0"), Tick(132.0, "50"), Tick(72.0, "100"), Tick(12.0, "150")]
    assert ValueAxis.fit(0, top=0, height=100).peak == 1  # an empty chart still has a scale


def test_the_frame_places_bar_slots_on_the_pitch() -> None:
    frame = Frame(left=40, top=12, right=40, bottom=40, plot_height=180, n=24, pitch=12)
    assert (frame.width, frame.height, frame.plot_right) == (40 + 24 * 12 + 40, 232, 328)
    assert [frame.slot(i) for i in (0, 1, 23)] == [40, 52, 316]


def test_the_daily_chart_of_valid_votes() -> None:
    assert day_chart([]) is None
    chart = day_chart([("2023-05-14", 3), ("2023-05-15", 10)])
    assert chart is not None
    assert (chart.width, chart.height, chart.plot_left, chart.plot_right, chart.plot_bottom) == (182, 222, 44, 172, 192)
    assert [(b.x, b.y, b.width, b.height, b.label_x) for b in chart.bars] == [
        (53.6, 141.0, 44.8, 51.0, 76.0), (117.6, 22.0, 44.8, 170.0, 140.0)]
    assert chart.y_ticks == [Tick(192, "0"), Tick(107.0, "5"), Tick(22.0, "10")]
    assert (chart.total, chart.busiest.votes, chart.busiest.short, chart.wide) == (13, 10, "5/15", False)


def test_the_hourly_chart_stacks_valid_held_and_voided() -> None:
    start = datetime(2023, 5, 15, 16, tzinfo=UTC)  # midnight in Beijing
    hours = [HourBucket(start + timedelta(hours=i)) for i in range(24)]
    hours[1] = HourBucket(hours[1].start, valid=6, held=2, voided=2)
    chart = hour_chart(SimpleNamespace(hours=hours))  # type: ignore[arg-type]
    assert (chart.width, chart.height, chart.plot_left, chart.plot_top, chart.plot_right, chart.plot_bottom) == (
        368, 232, 40, 12, 328, 192)
    bar = chart.bars[1]
    assert (bar.x, bar.width) == (53, 10)
    # peak 10, step 5: 18 units a vote
    assert [(s.status, s.y, s.height) for s in bar.segments] == [("valid", 84.0, 108.0), ("held", 48.0, 36.0),
                                                                   ("voided", 12.0, 36.0)]
    assert chart.y_ticks == [Tick(192, "0"), Tick(102.0, "5"), Tick(12.0, "10")]
    assert chart.x_ticks[0] == Tick(40, "5/16") and chart.x_ticks[1] == Tick(64, "02:00")
    assert "有效 6 票，待审 2 票，作废 2 票" in bar.label and not chart.wide
