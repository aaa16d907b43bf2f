"""One way for a view to run an operation that changes state: the operation either
succeeds, and the request's transaction is committed before the answer (a redirect with
a message, as a rule), or a service refuses it with a DomainError, and what the refusal
keeps is kept (web.settle_failure), the rest rolled back, and the page comes again with
the refusal and its status. Other exceptions are not caught: errors.py maps them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect
from flask.typing import ResponseReturnValue

from . import web
from .errors import DomainError
from .extensions import db

T = TypeVar("T")


def run_action(
    operation: Callable[[], T],
    *,
    refused: Callable[[DomainError], ResponseReturnValue],
    success: str | Callable[[T], str] | None = None,
    redirect_to: str | Callable[[T], str] | None = None,
    then: Callable[[T], ResponseReturnValue] | None = None,
) -> ResponseReturnValue:
    """Run `operation()`. Refused: settle the transaction and answer `refused(error)`.
    Done: commit, then answer `then(result)`, or flash `success` (a text, or a function
    of the result) as "success" and redirect to `redirect_to` (likewise)."""
    try:
        result = operation()
    except DomainError as exc:
        web.settle_failure(exc)
        return refused(exc)
    db.session.commit()
    if then is not None:
        return then(result)
    if success is None or redirect_to is None:
        raise TypeError("run_action needs then=, or success= and redirect_to=")
    flash(success(result) if callable(success) else success, "success")
    return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)
