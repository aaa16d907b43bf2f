"""One contest's season as the rehearsal runs it: the schedule the organiser types in, the
people taking part, their signed-in pages, the clock moved from stage to stage, the
ledger sealed, the figures checked and the screenshots taken."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from playwright.sync_api import Page

from contest.accounts.models import User
from contest.clock import LOCAL_TZ, FixedClock
from contest.contests.models import School
from contest.extensions import db
from contest.voting import ledger

from ..browser import DESKTOP, PHONE, PHONE_BROWSER, BrowserLog, log_in
from .figures import Checks, Standing, Tally, Voter
from .steps import Shots


def schedule(start: datetime, *, voting: bool = True) -> dict[str, tuple[datetime, datetime]]:
    """The season's windows from the morning of `start`'s day (Beijing time): two days of
    entries, a day of checks, four days of voting, two of judging, five of 公示. Without
    a public vote (黄炎培), judging follows the checks."""
    day = start.astimezone(LOCAL_TZ).replace(hour=8, minute=0, second=0, microsecond=0)

    def span(first: int, last: int) -> tuple[datetime, datetime]:
        return day + timedelta(days=first), day + timedelta(days=last)

    if not voting:
        return {"submission": span(0, 2), "review": span(2, 3), "judging": span(3, 7), "publicity": span(9, 14)}
    return {"submission": span(0, 2), "review": span(2, 3), "voting": span(3, 7), "judging": span(7, 9), "publicity": span(9, 14)}


@dataclass
class People:
    """Everyone taking part, with accounts made a week before the season (the platform
    has no page for linking a school contact to a school, nor a reason to register these
    accounts through the SMS form once more)."""

    organisers: tuple[User, User]
    citizens: list[User]  # who vote in the browser
    crowd: list[User]  # who vote on their own phones beside them
    judges: list[User]
    schools: list[School]
    contacts: list[User]  # one per school


@dataclass
class Season:
    contest: str  # the screenshots' name for it
    app: Flask
    clock: FixedClock
    base: str
    new_page: Callable[..., Page]
    log: BrowserLog
    people: People
    shots: Shots = field(init=False)
    tally: Tally = field(default_factory=Tally)
    checks: Checks = field(init=False)
    voters: dict[str, Voter] = field(default_factory=dict)
    refusals: set[str] = field(default_factory=set)  # addresses the rehearsal opens to be refused (404)
    _pages: dict[tuple[int, str], Page] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shots = Shots(self.contest)
        self.checks = Checks(self.contest)

    def standing(self, title: str, slug: str, contest_id: int) -> Standing:
        return Standing(title, slug, contest_id, self.tally, self.checks)

    def _signed_in(self, user: User, options: dict[str, object], kind: str) -> Page:
        key = (user.id, kind)
        if key not in self._pages:
            page = self.new_page(**options)
            log_in(page, self.base, user.phone)
            self._pages[key] = page
        return self._pages[key]

    def desk(self, user: User) -> Page:
        """The user's desktop browser, signed in (organisers)."""
        return self._signed_in(user, DESKTOP, "desktop")

    def phone(self, user: User) -> Page:
        """The user's phone, signed in (school contacts, judges)."""
        return self._signed_in(user, PHONE, "phone")

    def voter(self, name: str, user: User) -> Voter:
        """A citizen's phone browser (its own user agent), signed in, and their receipts."""
        if name not in self.voters:
            self.voters[name] = Voter(self._signed_in(user, PHONE_BROWSER, "voter"))
        return self.voters[name]

    def at(self, moment: datetime) -> None:
        """Move the season's clock (every page the server renders from now on says so)."""
        self.clock.set(moment)

    def seal(self) -> None:
        """Seal what the ledger holds, as the sealer does a few seconds after votes: the
        grace period passes on the clock and the due events go into a block."""
        self.clock.advance(seconds=10)
        db.session.rollback()  # see what the server committed
        ledger.seal_pending(db.session, now=self.clock.now())
        db.session.commit()

    def unexpected_console_errors(self) -> list[str]:
        """The pages' console errors but those of refusals the rehearsal asked for, which
        Chromium logs: a vote refused for its captcha (403) and the pages a contest without
        a public vote does not have (404)."""
        return [e for e in self.log.errors if not ("status of 403" in e and "/vote" in e)
                and not ("status of 404" in e and any(f"({self.base}{path})" in e for path in self.refusals))]
