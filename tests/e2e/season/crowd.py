"""What happens beside the browser: the crowd's votes and a click farm's burst, cast
through the voting service exactly as the vote view casts them (a Ballot carrying the
request's address, device cookie, browser and view stamp, so the anti-fraud scores each
vote); entries other schools and citizens sent, through the same submissions service as
the forms; and the other judges of a panel, scoring through the judging service."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from PIL import Image
from sqlalchemy import select

from contest.accounts.models import User
from contest.antifraud import captcha
from contest.clock import FixedClock
from contest.contests import service as contests
from contest.contests.models import Entry
from contest.extensions import db
from contest.judging import service as judging
from contest.media import submissions
from contest.media.submissions import IncomingFile
from contest.voting import service as voting
from contest.voting.records import ViewStamp

from ..browser import PHONE_BROWSER, sample_photo
from .figures import CastVote, Tally

FARM_ADDRESS = "203.0.113.77"
FARM_RANGE = "203.0.113.0/24"
FARM_DEVICE = "farm-device-3f9c2a7b"
FARM_AGENT = "python-requests/2.31.0"


def cast(app: Flask, clock: FixedClock, tally: Tally, voter: User, entry: Entry, *, ip: str, device: str,
         user_agent: str, seen_seconds: float, with_captcha: bool) -> CastVote:
    """One vote request through voting.cast_vote, committed; the tally learns its status."""
    redis = app.extensions["redis"]
    captcha_id = answer = ""
    if with_captcha:
        challenge = captcha.issue_captcha(db.session, redis, purpose="vote")
        db.session.commit()
        captcha_id = challenge.id
        answer = captcha.challenge_code(db.session, redis, captcha_id) or ""
    stamp = ViewStamp(entry.contest_id, entry.id, clock.now() - timedelta(seconds=seen_seconds))
    ballot = voting.Ballot(voter=voter, entry_id=entry.id, ip=ip, device_id=device, user_agent=user_agent, stamp=stamp,
                           captcha_id=captcha_id, captcha_answer=answer)
    result = voting.cast_vote(db.session, redis, ballot, clock.now())
    db.session.commit()  # the live boards and the sealer follow the commit, as after a request
    return tally.cast(result.vote.receipt, entry.id, result.vote.status, result.vote.id, voter.id)


def crowd_votes(app: Flask, clock: FixedClock, tally: Tally, crowd: list[User], plan: dict[int, int], *,
                with_captcha: bool = False) -> None:
    """Ordinary citizens on their own phones and networks, a couple of minutes apart:
    the first `n` of the crowd vote for each entry of the plan (entry id → n)."""
    entries = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(list(plan))))}
    for i, voter in enumerate(crowd):
        for entry_id, n in plan.items():
            if i < n:
                clock.advance(minutes=2)
                vote = cast(app, clock, tally, voter, entries[entry_id], ip=f"100.64.{i + 1}.23",
                            device=f"crowd-phone-{voter.id:06d}-browser", user_agent=PHONE_BROWSER["user_agent"],
                            seen_seconds=40, with_captcha=with_captcha)
                assert vote.status == "valid", (voter.phone, entry_id, vote)


def click_farm(app: Flask, clock: FixedClock, tally: Tally, make_user: Callable[..., User], plan: dict[int, int], *,
               with_captcha: bool = False) -> tuple[dict[int, list[CastVote]], list[User]]:
    """A click farm: accounts registered minutes ago, one address, one device, a script's
    user agent, each voting for each entry of the plan (entry id → votes) as fast as it
    can. The anti-fraud holds every one of these votes; returns them by entry, and the
    accounts."""
    accounts = [make_user(name="") for _ in range(max(plan.values()))]
    entries = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(list(plan))))}
    farmed: dict[int, list[CastVote]] = {entry_id: [] for entry_id in plan}
    for j, voter in enumerate(accounts):
        for entry_id, n in plan.items():
            if j < n:
                clock.advance(seconds=4)
                vote = cast(app, clock, tally, voter, entries[entry_id], ip=FARM_ADDRESS, device=FARM_DEVICE,
                            user_agent=FARM_AGENT, seen_seconds=0.5, with_captcha=with_captcha)
                assert vote.status == "held", f"the anti-fraud let a farmed vote through: {vote}"
                farmed[entry_id].append(vote)
    return farmed, accounts


# --- entries sent beside the browser's ---------------------------------------------------------


def incoming(folder: Path, name: str, data: bytes) -> IncomingFile:
    path = folder / name
    path.write_bytes(data)
    return IncomingFile(name=name, path=str(path), size=len(data))


# One colour per picture variant (browser.sample_photo lays each variant out differently).
PALETTE = ((180, 60, 40), (40, 90, 160), (150, 60, 120), (60, 140, 90), (200, 120, 30), (70, 70, 150))


def jpeg(variant: int, size: tuple[int, int] = (1280, 860)) -> bytes:
    """A JPEG of one of the sample photo's variants."""
    out = io.BytesIO()
    sample_photo(PALETTE[variant], size, variant).save(out, "JPEG", quality=85)
    return out.getvalue()


def pdf_plan(title: str) -> bytes:
    """A one-page business plan (a real PDF, drawn by Pillow)."""
    out = io.BytesIO()
    Image.new("RGB", (595, 842), (255, 255, 255)).save(out, "PDF", title=title)
    return out.getvalue()


def nominate(app: Flask, clock: FixedClock, contact: User, slug: str, folder: Path, *, school_id: int,
             data: submissions.NomineeInput, variant: int) -> Entry:
    contest = contests.get_contest(db.session, slug)
    photo = incoming(folder, f"nominee-{variant}.jpg", jpeg(variant))
    entry = submissions.nominate_student(db.session, app.extensions["storage"], actor=contact, contest=contest,
                                         data=submissions.NomineeInput(**{**vars(data), "school_id": school_id}),
                                         photos=[photo], video=None, now=clock.now(),
                                         consent=incoming(folder, f"consent-{variant}.jpg", jpeg(5)))
    db.session.commit()
    return entry


def submit_photo(app: Flask, clock: FixedClock, citizen: User, slug: str, folder: Path, *, title: str, description: str,
                 category: str, variant: int) -> Entry:
    contest = contests.get_contest(db.session, slug)
    category_id = next(c.id for c in contest.categories if c.name == category)
    photo = incoming(folder, f"photo-{variant}.jpg", jpeg(variant, (1600, 1000)))
    entry = submissions.submit_media_entry(
        db.session, app.extensions["storage"], actor=citizen, contest=contest,
        data=submissions.MediaEntryInput(title=title, description=description, category_id=category_id, kind="photo"),
        photos=[photo], video=None, cover=None, now=clock.now())
    db.session.commit()
    return entry


def register_team(app: Flask, clock: FixedClock, contact: User, slug: str, folder: Path, *, school_id: int,
                  team: submissions.TeamInput, track: str, group: str, clip: bytes, variant: int) -> Entry:
    contest = contests.get_contest(db.session, slug)
    ids = {(c.kind, c.name): c.id for c in contest.categories}
    entry = submissions.register_team(
        db.session, app.extensions["storage"], actor=contact, contest=contest,
        data=submissions.TeamInput(**{**vars(team), "school_id": school_id, "track_id": ids["track", track],
                                      "group_id": ids["group", group]}),
        plan=incoming(folder, f"plan-{variant}.pdf", pdf_plan(team.project)),
        pitch=incoming(folder, f"pitch-{variant}.mp4", clip), cover=incoming(folder, f"cover-{variant}.jpg", jpeg(variant)),
        now=clock.now())
    db.session.commit()
    return entry


# --- the rest of a judging panel -----------------------------------------------------------------


def panel_scores(clock: FixedClock, judge: User, round_id: int, marks: dict[int, tuple[float, ...]], *,
                 declare: bool = True) -> None:
    """A judge of the panel scoring at their own desk: the 回避 declaration, then each
    entry's marks (in the rubric's order), submitted."""
    db.session.rollback()  # see what the server committed
    rnd = judging.get_round(db.session, round_id)
    if declare:
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=clock.now())
    for entry_id, values in marks.items():
        judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry_id, submit=True, now=clock.now(),
                           raw_values={str(c.id): v for c, v in zip(rnd.criteria, values, strict=True)})
    db.session.commit()
