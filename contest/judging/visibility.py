"""What of an entry a judge may see: the one place that applies a round's blind mode,
for the judge's pages and the big screen alike."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..contests.models import Entry
from ..db import SessionLike
from ..i18n import _
from ..media.models import MediaItem

# What stands in for a person's name inside an entry's own words in a blind round.
NAME_MASK = "××"
# Shorter "names" (a single character) would mask ordinary words.
MIN_NAME_LENGTH = 2
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    major: str = ""


@dataclass(frozen=True)
class MediaForJudge:
    """A photo, video or document as a judge sees it. Its words (alternative text, caption)
    are the uploader's and often name the school or the student ("张三_济南XX职专_计划书.pdf"),
    so a blind round shows none of them."""

    kind: str
    role: str
    original_key: str
    display_key: str
    thumb_key: str
    poster_key: str
    content_type: str
    width: int
    height: int
    byte_size: int
    duration_seconds: float | None
    alt_text: str
    caption: str

    @classmethod
    def of(cls, item: MediaItem, *, blind: bool) -> MediaForJudge:
        return cls(
            kind=item.kind, role=item.role, original_key=item.original_key, display_key=item.display_key,
            thumb_key=item.thumb_key, poster_key=item.poster_key, content_type=item.content_type, width=item.width,
            height=item.height, byte_size=item.byte_size, duration_seconds=item.duration_seconds,
            alt_text="" if blind else item.alt_text, caption="" if blind else item.caption,
        )


@dataclass(frozen=True)
class EntryForJudge:
    """An entry as a judge (or the big screen) is allowed to see it."""

    id: int
    title: str
    description: str
    blind: bool
    category: str = ""
    group: str = ""
    school: str = ""  # empty in a blind round
    nominee_name: str = ""  # empty in a blind round
    nominee_major: str = ""
    nominee_grade: str = ""
    nominee_story: str = ""
    team: tuple[Person, ...] = ()  # empty in a blind round
    students: int = 0
    advisors: int = 0
    photos: tuple[MediaForJudge, ...] = ()
    videos: tuple[MediaForJudge, ...] = ()
    documents: tuple[MediaForJudge, ...] = ()

    @property
    def has_nominee(self) -> bool:
        return bool(self.nominee_name or self.nominee_major or self.nominee_grade or self.nominee_story)


@dataclass(frozen=True)
class _Names:
    """The people an entry names (its nominee, its team's students and advisors), to be
    found in its own words however they are spaced ("李 小燕" is 李小燕)."""

    names: frozenset[str]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, entry: Entry) -> _Names:
        people = [entry.nominee.name] if entry.nominee is not None else []
        people += [m.name for m in entry.team_members]
        names = {_SPACE.sub("", n) for n in people} - {""}
        names = {n for n in names if len(n) >= MIN_NAME_LENGTH}
        # Longest first, so "李小燕" is masked whole before a teammate called "小燕".
        ordered = sorted(names, key=lambda n: (-len(n), n))
        pattern = re.compile("|".join(r"\s*".join(map(re.escape, n)) for n in ordered)) if ordered else None
        return cls(frozenset(names), pattern)

    def mask(self, text: str) -> str:
        return self.pattern.sub(NAME_MASK, text) if self.pattern is not None else text

    def is_a_name(self, text: str) -> bool:
        return _SPACE.sub("", text) in self.names


NOBODY = _Names(frozenset(), None)


def _blind_title(entry: Entry, names: _Names) -> str:
    """The title with the people's names masked. A title that is nothing but a name
    (nominations were once titled with the student's name when none was given) gives way
    to a neutral one with the entry's number."""
    if names.is_a_name(entry.title):
        return _("候选人 #%(id)s", id=entry.id) if entry.nominee is not None else _("作品 #%(id)s", id=entry.id)
    return names.mask(entry.title)


def what_judge_sees(entry: Entry, media_items: Sequence[MediaItem] = (), *, blind: bool) -> EntryForJudge:
    """The one place that decides what of an entry reaches a judge's page or the screen.

    Everyone sees the work itself: title, description, category, photos, videos and the
    business plan. Only an open (non-blind) round adds who made it: the school, the
    nominee's name and the team members, and the uploader's own words about the files. A
    blind round keeps the team's size, which names nobody, and masks the nominee's and the
    team's names where the entry's own words (title, description, story) use them.
    Gender and birth date are never needed to judge and never shown."""
    members = list(entry.team_members)
    students = sum(1 for m in members if m.role != "advisor")
    nominee = entry.nominee
    names = _Names.of(entry) if blind else NOBODY
    return EntryForJudge(
        id=entry.id, title=_blind_title(entry, names) if blind else entry.title,
        description=names.mask(entry.description), blind=blind,
        category=entry.category.name if entry.category else "",
        group=entry.group.name if entry.group else "",
        school="" if blind or entry.school is None else entry.school.name,
        nominee_name="" if blind or nominee is None else nominee.name,
        nominee_major=nominee.major if nominee else "",
        nominee_grade=nominee.grade if nominee else "",
        nominee_story=names.mask(nominee.story) if nominee else "",
        team=() if blind else tuple(Person(m.name, m.role, m.major) for m in members),
        students=students, advisors=len(members) - students,
        photos=tuple(MediaForJudge.of(m, blind=blind) for m in media_items if m.kind == "image"),
        videos=tuple(MediaForJudge.of(m, blind=blind) for m in media_items if m.kind == "video"),
        documents=tuple(MediaForJudge.of(m, blind=blind) for m in media_items if m.kind == "pdf"),
    )


def load_people(session: SessionLike, entries: Sequence[Entry]) -> None:
    """Load the school, category, group, nominee and team of a list of entries in two
    queries, so a list page costs the same however long it is (the entries are already in
    the session: this fills in what they have not loaded)."""
    ids = [e.id for e in entries]
    if ids:
        session.scalars(select(Entry).where(Entry.id.in_(ids)).options(
            joinedload(Entry.school), joinedload(Entry.category), joinedload(Entry.group), joinedload(Entry.nominee),
            selectinload(Entry.team_members),
        )).unique().all()
