"""The manuals (docs/manual/) stay true: every file they link to exists, every screenshot
they show is one a browser test takes (so each test run refreshes it), every heading a
link points at exists, and each manual is listed in the index and linked from the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MANUALS = ROOT / "docs" / "manual"
SCREENSHOTS = ROOT / "docs" / "screenshots"
# A season journey numbers its screenshots: season-<contest>-<nn>-<step>.png, where the
# test names <contest> once (its parametrised season) and each <step> in a take call.
SEASON = re.compile(r"season-(?P<contest>[a-z]+)-\d{2}-(?P<step>[a-z-]+)\.png")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images in a text, outside code spans."""
    return LINK.findall(re.sub(r"`[^`]*`", "", text))


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def code_of_the_tests() -> str:
    """Every test module but this one, where a screenshot's name must appear."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "tests").rglob("*.py"))
                     if path.resolve() != Path(__file__).resolve())


def taken_by_a_test(name: str, sources: str) -> bool:
    if f'"{name}"' in sources:
        return True
    season = SEASON.fullmatch(name)
    return bool(season) and f'"{season["step"]}"' in sources and f'"{season["contest"]}"' in sources


def problems(manual: Path, sources: str, screenshots: Path = SCREENSHOTS) -> list[str]:
    """What is wrong with one manual's links."""
    text = manual.read_text(encoding="utf-8")
    found = []
    for target in links(text):
        if re.match(r"[a-z]+:", target):
            continue  # an outside address or mailto: not a file of the repository
        path_part, _, fragment = target.partition("#")
        file = (manual.parent / path_part).resolve() if path_part else manual
        if not file.is_file():
            found.append(f"{manual.name}: {target} does not exist")
            continue
        if fragment and file.suffix == ".md" and fragment not in anchors(file.read_text(encoding="utf-8")):
            found.append(f"{manual.name}: {target} names no heading of {file.name}")
        if file.parent == screenshots.resolve() and not taken_by_a_test(file.name, sources):
            found.append(f"{manual.name}: {file.name} is taken by no test, so nothing keeps it current")
    return found


@pytest.mark.parametrize("name", ["README.md", "organiser.md", "school.md", "judge.md"])
def test_manual_links_are_true(name: str) -> None:
    manual = MANUALS / name
    assert manual.is_file(), manual
    assert problems(manual, code_of_the_tests()) == []


@pytest.mark.parametrize("name", ["organiser.md", "school.md", "judge.md"])
def test_every_manual_is_illustrated_and_indexed(name: str) -> None:
    text = (MANUALS / name).read_text(encoding="utf-8")
    assert [t for t in links(text) if t.startswith("../screenshots/")], f"{name} shows no screenshot"
    assert f"]({name})" in (MANUALS / "README.md").read_text(encoding="utf-8")


def test_readme_links_the_manuals() -> None:
    assert "](docs/manual/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    """A missing file, a picture no test takes and a dead anchor are each reported; a
    picture a test takes, a live anchor and an outside address are not."""
    manual = MANUALS / "judge.md"
    sources = code_of_the_tests()
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("phone-judge-score.png", "never-taken.png"):
        (shots / name).write_bytes(b"")
    bad = tmp_path / "bad.md"
    bad.write_text("# 标题\n"
                   f"[x]({MANUALS / 'nothing.md'})\n"
                   f"![x]({shots / 'phone-judge-score.png'}) ![x]({shots / 'never-taken.png'})\n"
                   f"[x]({manual}#不存在的标题) [x]({manual}#如何评分)\n"
                   "[x](#标题) [x](https://example.org/a.png) `[x](nothing-in-code.md)`\n", encoding="utf-8")
    assert [p.split(": ", 1)[1] for p in problems(bad, sources, shots)] == [
        f"{MANUALS / 'nothing.md'} does not exist",
        "never-taken.png is taken by no test, so nothing keeps it current",
        f"{manual}#不存在的标题 names no heading of judge.md",
    ]
    assert taken_by_a_test("season-zuimei-15-judge-entry.png", sources)
    assert not taken_by_a_test("season-zuimei-15-no-such-step.png", sources)
    assert not taken_by_a_test("season-elsewhere-15-judge-entry.png", sources)
