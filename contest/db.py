"""The declarative base shared by every domain's models."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeAlias, cast

from sqlalchemy import DateTime, MetaData, Table, event
from sqlalchemy.engine import CursorResult, Dialect, Result
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, registry, scoped_session
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Every constraint gets a predictable name so that Alembic can alter and drop it on
# PostgreSQL and in SQLite batch mode alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC.

    SQLite keeps no time zone; storing UTC everywhere and converting to Asia/Shanghai
    only for display keeps both databases identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    # Every model here is mapped to a Table (SQLAlchemy types this as any FromClause).
    __table__: ClassVar[Table]

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


#: The session a domain function takes: a Session, or `db.session`, Flask-SQLAlchemy's scoped
#: proxy (what the views, the CLI and the tests pass), which forwards each call to the current
#: app context's Session. The proxy does not forward everything (in_transaction(), ...):
#: real_session() gives the Session itself.
SessionLike: TypeAlias = Session | scoped_session[Any]


def real_session(session: SessionLike) -> Session:
    if isinstance(session, scoped_session):
        real: Session = session()
        return real
    return session


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. For those, Session.execute returns a
    CursorResult, which has rowcount, but it is typed as returning any Result."""
    return cast("CursorResult[Any]", result).rowcount


# --- what a transaction changes on public pages ---------------------------------------------

PUBLIC_CHANGES = "contest.public_changes"


def note_public_change(session: SessionLike, contest_id: int | None, *, votes: bool = False) -> None:
    """Record that the transaction changes what public pages show, for rows written without
    the ORM's unit of work (whose flushes contest/page_cache.py sees by itself): a contest's
    data, or only its votes. The shared page cache renews those pages once it commits."""
    names = ({f"v{contest_id}"} if votes else {f"c{contest_id}", "all"}) if contest_id is not None else \
        ({"vg"} if votes else {"g", "all"})
    real_session(session).info.setdefault(PUBLIC_CHANGES, set()).update(names)


# --- work that waits for a commit ------------------------------------------------------------

_AFTER_COMMIT = "contest.after_commit"


def after_commit(session: SessionLike, work: Callable[[], object]) -> None:
    """Run `work` once the session's current transaction has committed for good.

    Work registered inside a SAVEPOINT that is rolled back, or in a transaction that is
    rolled back, is dropped with it. Work runs after the database has the commit, in
    registration order; an exception is logged and does not stop the rest (the commit
    stands, and whatever the work feeds must be able to catch up on its own).
    """
    real = real_session(session)  # the request's own session, which the commit events name
    innermost = real.get_nested_transaction() or real.get_transaction()
    real.info.setdefault(_AFTER_COMMIT, []).append((innermost, work))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the transaction goes on
        return
    for _transaction, work in session.info.pop(_AFTER_COMMIT, []):
        try:
            work()
        except Exception:
            log.exception("work after a commit failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_AFTER_COMMIT)
    if not pending:
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous:
                return True
            transaction = transaction.parent
        return False

    session.info[_AFTER_COMMIT] = [(t, w) for t, w in pending if not inside(t)]
