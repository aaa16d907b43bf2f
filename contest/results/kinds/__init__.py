"""The contest kinds' result formulas, one module each: selection (最美职校生), media
(全民美拍) and innovation (黄炎培职业教育创新创业大赛). Each owns its defaults, its rules
check, its computation and its explanation; common.py holds what they share.

Like the rest of the formulas, pure Python: no Flask, no database.
"""

from __future__ import annotations

from . import innovation, media, selection
from .common import Kind

_KINDS: dict[str, Kind] = {k.key: k for k in (selection.KIND, media.KIND, innovation.KIND)}
KINDS = tuple(_KINDS)


def kind_of(key: str) -> Kind:
    """The contest kind's formula (Contest.kind); ValueError for an unknown kind."""
    try:
        return _KINDS[key]
    except (KeyError, TypeError):
        raise ValueError(f"未知的赛事类型：{key}。") from None


__all__ = ["KINDS", "Kind", "kind_of"]
