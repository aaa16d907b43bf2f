"""Who acts in a service call: a signed-in `User`, or `SYSTEM`, the platform acting by
itself (CLI commands, the demo data, scheduled and background work).

`None` is not an actor. An anonymous visitor has no account, and a view that forgot its
guard must not pass for the system: anything that is neither a User nor SYSTEM is refused
with Forbidden (`is_system`, `actor_id`, and `accounts.service.require_role`).

This module sits in the lowest domain so that every domain may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..errors import Forbidden
from ..i18n import N_, _
from .models import User


@dataclass(frozen=True)
class SystemActor:
    """The platform acting by itself. It holds no roles: a service lets it through where
    the operator or the system may act (`if not is_system(actor): require_role(...)`).
    Audit rows and "who did it" columns store no user for it (NULL); such rows read
    `label` (系统)."""

    label: str = N_("系统")

    def __str__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemActor()

Actor: TypeAlias = User | SystemActor


def is_system(actor: Actor) -> bool:
    """True for SYSTEM, False for a user; anything else (None above all) is Forbidden."""
    if isinstance(actor, SystemActor):
        return True
    if isinstance(actor, User):
        return False
    raise Forbidden(_("您没有权限进行此操作。"))


def actor_id(actor: Actor) -> int | None:
    """The id to store as who acted: the user's, or None for the system (Forbidden for
    anything else)."""
    if isinstance(actor, User):
        return actor.id
    is_system(actor)
    return None
