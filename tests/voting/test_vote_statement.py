"""The vote's one statement on PostgreSQL stays within what psycopg keeps converted
between calls, so its placeholders are not parsed again on every vote."""

from __future__ import annotations

import pytest
from psycopg import _queries
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from contest.voting import writer


@pytest.mark.parametrize(("observe", "answer"), [(True, True), (True, False), (False, True), (False, False)])
def test_the_vote_statement_is_one_psycopg_keeps_converted(observe, answer):
    compiled = writer._statement(observe, answer).compile(dialect=PGDialect_psycopg())
    # psycopg converts a query's %(name)s placeholders once and keeps the result only for
    # queries of at most these sizes; above them it parses every call again.
    assert len(compiled.string.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
    # every value comes from the vote's rows: no constant travels as a parameter
    rows = writer.VoteRows(vote=dict.fromkeys(writer.VOTE_COLUMNS), event=dict.fromkeys(writer.EVENT_COLUMNS),
                           per_entry=1, per_day=5, observation=dict.fromkeys(writer.OBSERVATION_COLUMNS) if observe else None,
                           reply=dict.fromkeys(writer.REPLY_COLUMNS) if answer else None)
    assert set(compiled.params) == set(writer._params(rows))
