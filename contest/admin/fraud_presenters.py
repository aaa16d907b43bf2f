"""What the fraud review pages show beyond the service's report: the votes-per-hour
chart, a stacked bar per hour (valid at the bottom, then held, then voided), drawn on
the server as SVG."""

from __future__ import annotations

from dataclasses import dataclass

from ..charts import Frame, Tick
from ..clock import to_local
from ..i18n import _
from ..voting.review import EntryReport, HourBucket


@dataclass(frozen=True)
class Segment:
    status: str
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    bucket: HourBucket
    segments: list[Segment]
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    wide: bool


def _hour_label(bucket: HourBucket) -> str:
    local = to_local(bucket.start)
    end = to_local(bucket.start).hour + 1
    return _("%(d)s %(h)s:00–%(e)s:00：有效 %(v)s 票，待审 %(k)s 票，作废 %(x)s 票",
             d=f"{local.month}月{local.day}日", h=f"{local.hour:02d}", e=f"{end:02d}", v=bucket.valid, k=bucket.held,
             x=bucket.voided)


def hour_chart(report: EntryReport) -> Chart:
    """Geometry of the entry's votes per hour, one bar per hour of the report's period."""
    n = len(report.hours)
    # y labels on both sides: a scrolled chart keeps one
    frame = Frame(left=40, top=12, right=40, bottom=40, plot_height=180, n=n, pitch=12 if n <= 48 else 8 if n <= 96 else 6)
    axis = frame.axis(max((b.total for b in report.hours), default=0))
    bars = []
    for i, bucket in enumerate(report.hours):
        y, segments = float(axis.base), []
        for status in ("valid", "held", "voided"):
            count = getattr(bucket, status)
            if count:
                y -= count * axis.scale
                segments.append(Segment(status, round(y, 2), round(count * axis.scale, 2)))
        bars.append(Bar(frame.slot(i) + 1, frame.pitch - 2, bucket, segments, _hour_label(bucket)))
    every = next(k for k in (1, 2, 3, 6, 12, 24) if n / k <= 14)
    x_ticks = []
    for i, bucket in enumerate(report.hours):
        local = to_local(bucket.start)
        if local.hour % every == 0:
            text = f"{local.month}/{local.day}" if local.hour == 0 else f"{local.hour:02d}:00"
            x_ticks.append(Tick(frame.slot(i), text))
    return Chart(frame.width, frame.height, frame.left, frame.top, frame.plot_right, axis.base, bars, axis.ticks(), x_ticks,
                 wide=n > 72)
