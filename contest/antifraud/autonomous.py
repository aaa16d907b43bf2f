"""Short writes that must stand whatever becomes of the caller's transaction.

Consuming a captcha has to stick even when the request that checked it is then refused
and rolled back; otherwise a wrong answer could be retried on the same challenge.
Such writes run on a connection of their own and commit at once.

SQLite allows one writer at a time: when the caller's transaction already holds the
write lock, a second connection would wait for it until the busy timeout. Then the
write is done inside the caller's transaction and, should that roll back, repeated on
a connection of its own once the lock is free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

from ..db import SessionLike


def _engine(session: SessionLike) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _holds_sqlite_write_lock(session: SessionLike) -> bool:
    session = _real_session(session)
    if _engine(session).dialect.name != "sqlite" or not session.in_transaction():
        return False
    dbapi_connection = session.connection().connection.dbapi_connection
    return bool(getattr(dbapi_connection, "in_transaction", False))


def _real_session(session: SessionLike) -> Session:
    return session.registry() if isinstance(session, scoped_session) else session


def write_now(session: SessionLike, work: Callable[[Any], Any], *, redo_after_rollback: bool = True) -> Any:
    """Run `work(connection_or_session)` in a transaction of its own and commit it.

    Falls back to the caller's transaction when another writer cannot get in (SQLite
    with the caller holding the lock); then, with `redo_after_rollback`, the same work
    runs again on its own connection if the caller's transaction is rolled back, and
    with it off nothing is written at all (None is returned).
    """
    if not _holds_sqlite_write_lock(session):
        with _engine(session).begin() as connection:
            return work(connection)
    if not redo_after_rollback:
        return None
    real = _real_session(session)
    engine = _engine(session)

    def redo(_session: Session) -> None:
        with engine.begin() as connection:
            work(connection)

    event.listen(real, "after_rollback", redo, once=True)
    result = work(session)
    session.flush()
    return result
