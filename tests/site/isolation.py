"""Reading what requests actually committed.

`committed` reads through a new connection, so it sees only what a request committed,
never what is pending in the test's own session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable

from contest.extensions import db


def committed(statement: Executable) -> Any:
    """The scalar result of `statement` over committed data only."""
    with db.engine.connect() as conn:
        return conn.execute(statement).scalar()
