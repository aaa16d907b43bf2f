"""The geometry of the bar charts drawn on the server as SVG (no script, CSP 'self'):
a value axis with round tick steps, and bars on a fixed pitch. Pure arithmetic, in
SVG user units (y grows downwards); the presenters put the bars' figures and labels
on top, the templates draw them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    pos: float  # x for a tick of the time axis, y for one of the value axis
    text: str


def nice_step(peak: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `peak`."""
    raw = max(peak / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


@dataclass(frozen=True)
class ValueAxis:
    """A vertical axis from 0 at `base` up to `peak`, a whole number of steps, over
    `height` units."""

    base: int  # y of the value 0: the bottom of the plot
    height: int
    step: int
    peak: int

    @classmethod
    def fit(cls, largest: int, *, top: int, height: int) -> ValueAxis:
        """The axis for values up to `largest`, its plot starting at y=`top`."""
        step = nice_step(largest)
        return cls(top + height, height, step, max(step, step * math.ceil(largest / step)))

    @property
    def scale(self) -> float:
        """Units per counted item."""
        return self.height / self.peak

    def ticks(self) -> list[Tick]:
        """One tick per step, 0 included, each at its y."""
        return [Tick(round(self.base - v * self.scale, 2), str(v)) for v in range(0, self.peak + 1, self.step)]


@dataclass(frozen=True)
class Frame:
    """The drawing's outer size around a plot of `n` bars at `pitch` units each."""

    left: int
    top: int
    right: int
    bottom: int
    plot_height: int
    n: int
    pitch: int

    @property
    def width(self) -> int:
        return self.left + self.n * self.pitch + self.right

    @property
    def height(self) -> int:
        return self.top + self.plot_height + self.bottom

    @property
    def plot_right(self) -> int:
        return self.left + self.n * self.pitch

    def slot(self, i: int) -> int:
        """x where the i-th bar's slot starts."""
        return self.left + i * self.pitch

    def axis(self, largest: int) -> ValueAxis:
        return ValueAxis.fit(largest, top=self.top, height=self.plot_height)
