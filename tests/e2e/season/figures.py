"""Vote figures in the season rehearsal.

`Tally` is what the rehearsal knows: every vote it cast (in the browser or through the
voting service), with the status it was given and every release or void since. The
readers below each open one page and return the figures that page shows, and nothing
else; each is named after its page, so a disagreement says which page it is. `Checks`
collects the disagreements of a whole season, so one run names every page that
disagrees, and the test fails at its end with all of them.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page

NOT_PUBLIC = "不公开"


@dataclass(frozen=True)
class Split:
    """One entry's votes: counted (valid), held for checking, voided."""

    counted: int = 0
    held: int = 0
    voided: int = 0

    def __str__(self) -> str:
        return f"有效 {self.counted} / 待审 {self.held} / 作废 {self.voided}"


@dataclass
class CastVote:
    receipt: str
    entry_id: int
    status: str  # valid | held | voided
    vote_id: int | None = None  # known when cast through the service
    voter_id: int | None = None  # known when cast through the service
    reason: str = ""  # the organisers' reason of a release or void


class Tally:
    """Every vote the rehearsal cast and what became of it."""

    def __init__(self) -> None:
        self.votes: dict[str, CastVote] = {}

    def cast(self, receipt: str, entry_id: int, status: str, vote_id: int | None = None, voter_id: int | None = None) -> CastVote:
        assert receipt not in self.votes, receipt
        self.votes[receipt] = vote = CastVote(receipt, entry_id, status, vote_id, voter_id)
        return vote

    def change(self, votes: Iterable[CastVote], status: str, reason: str) -> None:
        for vote in votes:
            self.votes[vote.receipt].status = status
            self.votes[vote.receipt].reason = reason

    def of(self, entry_id: int, status: str | None = None) -> list[CastVote]:
        return [v for v in self.votes.values() if v.entry_id == entry_id and status in (None, v.status)]

    def split(self, entry_id: int) -> Split:
        found = Counter(v.status for v in self.of(entry_id))
        return Split(found["valid"], found["held"], found["voided"])

    def voided_by_reason(self, entry_id: int) -> dict[str, int]:
        return dict(Counter(v.reason for v in self.of(entry_id, "voided")))

    def entries(self) -> set[int]:
        return {v.entry_id for v in self.votes.values()}


@dataclass
class Checks:
    """Disagreements between the pages and the tally, over a whole season."""

    contest: str
    failures: list[str] = field(default_factory=list)
    looked: int = 0
    legend: dict[int, str] = field(default_factory=dict)  # entry id → the rehearsal's name for it

    def same(self, stage: str, where: str, shown: Any, expected: Any) -> None:
        self.looked += 1
        if shown != expected:
            self.failures.append(f"[{self.contest} · {stage}] {where}: shows {shown!r}, the rehearsal expects {expected!r}")

    def true(self, stage: str, where: str, holds: bool, what: str) -> None:
        self.looked += 1
        if not holds:
            self.failures.append(f"[{self.contest} · {stage}] {where}: {what}")

    def report(self) -> str:
        names = ", ".join(f"{entry} = {name}" for entry, name in sorted(self.legend.items()))
        return f"{len(self.failures)} of {self.looked} checks disagree (entries: {names}):\n" + "\n".join(self.failures)


def _open(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response.status if response else 'no answer'}"


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


# --- public pages ------------------------------------------------------------------------

def entry_vote_box(page: Page, base: str, slug: str, entry_id: int) -> int | None:
    """The entry page's vote box: the count it shows, None when it shows none."""
    _open(page, f"{base}/c/{slug}/entries/{entry_id}")
    return _number(page.evaluate(
        "id => document.querySelector(`#vote [data-vote-count='${id}']`)?.textContent ?? null", entry_id))


def entry_result_box(page: Page, base: str, slug: str, entry_id: int) -> str | None:
    """The entry page's result box (once results are public): its 有效票数, as shown."""
    _open(page, f"{base}/c/{slug}/entries/{entry_id}")
    return page.evaluate("""() => { const box = document.querySelector('.result-box'); if (!box) return null;
        const dt = [...box.querySelectorAll('dt')].find(d => d.textContent.trim() === '有效票数');
        return dt ? dt.nextElementSibling.textContent.trim() : ''; }""")


def gallery_cards(page: Page, base: str, slug: str) -> dict[int, int | None]:
    """Every card of the gallery: entry → the count on its card (None: no count shown)."""
    _open(page, f"{base}/c/{slug}/entries")
    rows = page.evaluate("""() => [...document.querySelectorAll('.entry-card')].map(card => {
        const id = Number(card.querySelector('a[href*="/entries/"]').getAttribute('href').match(/entries\\/(\\d+)/)[1]);
        const n = card.querySelector('[data-vote-count]');
        return [id, n ? n.textContent.trim() : null]; })""")
    return {int(entry): _number(count) for entry, count in rows}


def web_leaderboard(page: Page, base: str, slug: str) -> list[tuple[int, int, int | None]]:
    """/c/<slug>/leaderboard: (rank, entry, votes shown) from the top."""
    _open(page, f"{base}/c/{slug}/leaderboard")
    rows = page.evaluate("""() => [...document.querySelectorAll('ol.leaderboard li.standing')].map(li =>
        [Number(li.getAttribute('value')), Number(li.dataset.entry), li.querySelector('.standing-votes strong')?.textContent ?? null])""")
    return [(rank, entry, _number(votes)) for rank, entry, votes in rows]


def api_leaderboard(page: Page, base: str, slug: str) -> list[tuple[int, int, int | None]]:
    """GET /api/v1/contests/<slug>/leaderboard: (rank, entry, votes) from the top."""
    response = page.request.get(f"{base}/api/v1/contests/{slug}/leaderboard")
    assert response.status == 200, response.text()
    return [(row["rank"], row["entry_id"], row["votes"]) for row in response.json()["items"]]


def api_entries(page: Page, base: str, slug: str) -> set[int]:
    """GET /api/v1/contests/<slug>/entries: the entries the API lists (one page is enough here)."""
    response = page.request.get(f"{base}/api/v1/contests/{slug}/entries")
    assert response.status == 200, response.text()
    return {item["id"] for item in response.json()["items"]}


def status_of(page: Page, url: str) -> int:
    """The status a page answers with (fetched, not shown)."""
    return page.request.get(url).status


def count_mentions(page: Page, title: str, count: int) -> list[str]:
    """Text blocks of the page (folded ones too) that name the entry and give `count`
    as a number of votes (票数 n, n 票)."""
    blocks = page.evaluate("""title => [...document.querySelectorAll('p, li, tr, dd, dl, section, details')]
        .filter(e => e.textContent.includes(title)).map(e => e.textContent.replace(/\\s+/g, ' '))""", title)
    pattern = re.compile(rf"票数\s*{count}(?!\d)|(?<![\d.]){count}\s*票(?!数)")
    return sorted({b[:200] for b in blocks if pattern.search(b)})


def api_leaderboard_status(page: Page, base: str, slug: str) -> int:
    return page.request.get(f"{base}/api/v1/contests/{slug}/leaderboard").status


def transparency(page: Page, base: str, slug: str) -> dict[str, Any]:
    """/c/<slug>/transparency: the totals, the voided votes by entry and reason, the held
    votes by entry (a number, or 不公开)."""
    _open(page, f"{base}/c/{slug}/transparency")
    return dict(page.evaluate("""() => {
        const totals = {};
        document.querySelectorAll('.transparency-stats > div').forEach(d =>
            totals[d.querySelector('dt').textContent.trim()] = Number(d.querySelector('dd').textContent.trim()));
        const rows = title => [...(document.querySelector(`section[aria-labelledby="${title}"]`)?.querySelectorAll('tr[data-entry]') ?? [])]
            .map(tr => [Number(tr.dataset.entry), ...[...tr.querySelectorAll('td')].map(td => td.textContent.trim())]);
        const reasons = [...document.querySelectorAll('section[aria-labelledby="voided-title"] table')]
            .filter(t => t.querySelector('caption')?.textContent.trim() === '按原因汇总')
            .flatMap(t => [...t.querySelectorAll('tbody tr')].map(tr => [tr.querySelector('th').textContent.trim(),
                                                                         Number(tr.querySelector('td').textContent.trim())]));
        return {totals, voided: rows('voided-title'), held: rows('held-title'), by_reason: reasons,
                text: document.querySelector('main')?.innerText ?? document.body.innerText}; }"""))


def published_results(page: Page, base: str, slug: str) -> dict[str, Any]:
    """/c/<slug>/results: each ranked entry's 有效票数 cell as shown (absent when the
    contest shows no votes), its awards, and the daily chart's total."""
    _open(page, f"{base}/c/{slug}/results")
    return dict(page.evaluate("""() => {
        const votes = {}, awards = {};
        document.querySelectorAll('table.result-table tr[data-entry]').forEach(tr => {
            const cell = tr.querySelector('td[data-label="有效票数"]');
            votes[tr.dataset.entry] = cell ? cell.textContent.trim() : null;
            awards[tr.dataset.entry] = [...tr.querySelectorAll('.award-chip')].map(a => a.textContent.trim()); });
        const day = [...document.querySelectorAll('.day-chart-section table tbody tr')].find(tr => tr.querySelector('th').textContent.trim() === '合计');
        return {votes, awards, day_total: day ? Number(day.querySelector('td').textContent.trim()) : null,
                state: document.querySelector('.result-badges')?.innerText.trim() ?? ''}; }"""))


def published_round_scores(page: Page, base: str, slug: str, column: str) -> dict[str, str]:
    """/c/<slug>/results: each ranked entry's score in one round's column, by title."""
    _open(page, f"{base}/c/{slug}/results")
    return dict(page.evaluate("""column => [...document.querySelectorAll('table.result-table tr[data-entry]')].map(tr =>
        [tr.querySelector('th').textContent.trim(), tr.querySelector(`td[data-label="${column}"]`)?.textContent.trim() ?? null])""",
                              column))


def big_screen_ranking(page: Page) -> dict[str, str]:
    """The live final's big screen, as it stands: each ranked project's score, by title."""
    return dict(page.evaluate("""() => [...document.querySelectorAll('[data-ranking] li')].map(li =>
        [li.querySelector('[data-rank-title]').textContent.trim(), li.querySelector('[data-rank-mean]').textContent.trim()])"""))


API_STATUS = {"counted": "valid", "held": "held", "voided": "voided"}  # the API's words for a vote's status


def api_receipt_status(page: Page, base: str, code: str) -> str:
    """GET /api/v1/receipts/<code>: the vote's status (in the web pages' words)."""
    response = page.request.get(f"{base}/api/v1/receipts/{code}")
    assert response.status == 200, response.text()
    status = str(response.json()["status"])
    return API_STATUS.get(status, status)


def receipt_status(page: Page, base: str, code: str) -> tuple[str, bool]:
    """/receipts/<code>: the vote's status as the page says it, and whether every ledger
    record of it is in a sealed block with a proof that checks out."""
    _open(page, f"{base}/receipts/{code}")
    found = page.evaluate("""() => [
        [...document.querySelector('.receipt-status').classList].find(c => c.startsWith('status-')).slice(7),
        [...document.querySelectorAll('.proof-result')].every(p => p.classList.contains('ok'))]""")
    return found[0], bool(found[1])


def my_votes(page: Page, base: str) -> dict[str, str]:
    """/me/votes of the signed-in voter: receipt → the state its row shows (valid, held,
    voided or released)."""
    _open(page, f"{base}/me/votes")
    rows = page.evaluate("""() => [...document.querySelectorAll('.vote-row')].map(li =>
        [li.querySelector('.receipt-code').textContent.trim(),
         [...li.classList].find(c => c.startsWith('vote-row-')).slice(9)])""")
    return {code: state for code, state in rows}


# --- the back office ---------------------------------------------------------------------

def fraud_desk(page: Page, base: str, contest_id: int) -> dict[int, tuple[Split, bool]]:
    """/admin/fraud/<contest>: each entry with votes → its split and whether it is still in
    the running (no 不在评比中 badge)."""
    _open(page, f"{base}/admin/fraud/{contest_id}")
    rows = page.evaluate("""() => [...document.querySelectorAll('table.fraud-table tbody tr[data-entry]')].map(tr =>
        [Number(tr.dataset.entry), [...tr.querySelectorAll('td.num')].slice(0, 3).map(td => Number(td.textContent.trim())),
         !tr.querySelector('th').textContent.includes('不在评比中')])""")
    return {entry: (Split(*numbers), competing) for entry, numbers, competing in rows}


def fraud_desk_entry(page: Page, base: str, entry_id: int) -> Split:
    """/admin/fraud/entries/<entry>: the totals at the top of one entry's review."""
    _open(page, f"{base}/admin/fraud/entries/{entry_id}")
    return Split(*page.evaluate("() => [...document.querySelectorAll('.fraud-stats dd')].map(d => Number(d.textContent.trim()))"))


def fraud_index(page: Page, base: str, title: str) -> Split:
    """/admin/fraud/: the contest's totals over its entries in the running."""
    _open(page, f"{base}/admin/fraud/")
    numbers = page.evaluate("""title => [...document.querySelectorAll('table.fraud-table tbody tr')]
        .filter(tr => tr.querySelector('th')?.textContent.includes(title))
        .map(tr => [...tr.querySelectorAll('td.num')].map(td => Number(td.textContent.trim())))[0]""", title)
    return Split(*numbers)


def results_preview(page: Page, base: str, slug: str) -> dict[int, Split | None]:
    """/admin/results/<slug>/: each entry of the preview → the votes it counts from the
    sealed ledger (None where the contest's results count no votes)."""
    return _ranking_table(page, f"{base}/admin/results/{slug}/")


def published_version(page: Page, base: str, slug: str, version: int) -> dict[int, Split | None]:
    """/admin/results/<slug>/versions/<v>: the frozen list of one publication."""
    return _ranking_table(page, f"{base}/admin/results/{slug}/versions/{version}")


def _ranking_table(page: Page, url: str) -> dict[int, Split | None]:
    _open(page, url)
    rows = page.evaluate("""() => {
        const heads = [...document.querySelectorAll('table.rs-table thead th')].map(th => th.textContent.trim());
        const at = heads.indexOf('有效票');
        return [...document.querySelectorAll('table.rs-table tbody tr[data-entry]')].map(tr => {
            if (at < 0) return [Number(tr.dataset.entry), null];
            const cell = tr.children[at];
            return [Number(tr.dataset.entry), [cell.childNodes[0].textContent.trim(), cell.querySelector('.small')?.textContent ?? '']]; }); }""")
    found: dict[int, Split | None] = {}
    for entry, shown in rows:
        if shown is None:
            found[entry] = None
            continue
        split = re.search(r"待审 (\d+) · 作废 (\d+)", shown[1])
        found[entry] = Split(int(shown[0]), *(int(n) for n in split.groups())) if split else Split(int(shown[0]))
    return found


def _download(page: Page, click: Any) -> bytes:
    with page.expect_download() as info:
        click()
    path = info.value.path()
    with open(path, "rb") as f:
        return f.read()


def exported_votes(page: Page, base: str, slug: str) -> dict[int, Split]:
    """The 票数 CSV downloaded from the exports page: entry → its split."""
    _open(page, f"{base}/admin/results/{slug}/exports")
    card = page.locator(".rs-exports > li").filter(has=page.get_by_role("heading", name="票数", exact=True))
    data = _download(page, card.get_by_role("link", name="CSV").click)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    at = {name: rows[0].index(name) for name in ("作品编号", "有效票", "待审票", "作废票")}
    return {int(row[at["作品编号"]]): Split(int(row[at["有效票"]]), int(row[at["待审票"]]), int(row[at["作废票"]]))
            for row in rows[1:] if row}


def exported_results(page: Page, base: str, slug: str) -> dict[int, Split | None]:
    """The 结果名单 XLSX downloaded from the exports page: entry → its split (None where
    the contest's results count no votes)."""
    _open(page, f"{base}/admin/results/{slug}/exports")
    card = page.locator(".rs-exports > li").filter(has=page.get_by_role("heading", name="结果名单", exact=True))
    data = _download(page, card.get_by_role("link", name="Excel (XLSX)").click)
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = [str(h) for h in rows[0]]
    entry_at = header.index("作品编号")
    if "有效票" not in header:
        return {int(row[entry_at]): None for row in rows[1:] if row[entry_at] is not None}  # type: ignore[arg-type]
    at = [header.index(name) for name in ("有效票", "待审票", "作废票")]
    return {int(row[entry_at]): Split(*(int(row[i]) for i in at))  # type: ignore[arg-type]
            for row in rows[1:] if row[entry_at] is not None}


# --- one stage of a season, every page held to the tally ------------------------------------

@dataclass
class Standing:
    """What the rehearsal knows of one contest: its tally, its entries by the rehearsal's
    names, the minors whose counts the rules keep private and the entries no longer in the
    running (withdrawn, rejected)."""

    title: str
    slug: str
    contest_id: int
    tally: Tally
    checks: Checks
    entries: dict[str, int] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    minors: set[int] = field(default_factory=set)
    out: set[int] = field(default_factory=set)

    def name(self, entry_id: int) -> str:
        return next((k for k, v in self.entries.items() if v == entry_id), f"#{entry_id}")

    def running(self) -> list[int]:
        return [e for e in self.entries.values() if e not in self.out]

    def public(self) -> list[int]:
        """Entries in the running whose counts the public may see."""
        return [e for e in self.running() if e not in self.minors]

    def board(self, *, counts_visible: bool = True) -> list[tuple[int, int, int | None]]:
        """The public leaderboard as the tally makes it: counted votes, shared ranks."""
        counted = sorted(((n, e) for e in self.public() if (n := self.tally.split(e).counted)), key=lambda c: (-c[0], c[1]))
        rows: list[tuple[int, int, int | None]] = []
        for i, (n, e) in enumerate(counted):
            rank = rows[-1][0] if rows and counted[i - 1][0] == n else i + 1
            rows.append((rank, e, n if counts_visible else None))
        return rows

    def add(self, name: str, entry_id: int, title: str) -> int:
        self.entries[name] = entry_id
        self.titles[entry_id] = title
        self.checks.legend[entry_id] = name
        return entry_id

    def same(self, stage: str, where: str, shown: Any, expected: Any) -> None:
        self.checks.same(stage, where, shown, expected)


def check_public_pages(st: Standing, stage: str, page: Page, base: str, *, counts_visible: bool = True) -> None:
    """Entry pages, the gallery, the web and API leaderboards and the transparency page
    against the tally; minors' counts absent from all of them, entries out of the running
    on none of them."""
    for e in st.running():
        counted = None if e in st.minors or not counts_visible else st.tally.split(e).counted
        st.same(stage, f"entry page of {st.name(e)}: vote box", entry_vote_box(page, base, st.slug, e), counted)
    st.same(stage, "gallery: counts on the cards", gallery_cards(page, base, st.slug),
            {e: None if e in st.minors or not counts_visible else st.tally.split(e).counted for e in st.running()})
    for e in st.out:
        st.same(stage, f"entry page of {st.name(e)} (out of the running): status",
                status_of(page, f"{base}/c/{st.slug}/entries/{e}"), 404)
    st.same(stage, "API entries /api/v1/contests/<slug>/entries", api_entries(page, base, st.slug), set(st.running()))
    board = st.board(counts_visible=counts_visible)
    st.same(stage, "web leaderboard /c/<slug>/leaderboard", web_leaderboard(page, base, st.slug), board)
    st.same(stage, "API leaderboard /api/v1/contests/<slug>/leaderboard", api_leaderboard(page, base, st.slug), board)
    check_transparency(st, stage, page, base, counts_visible=counts_visible)


def check_transparency(st: Standing, stage: str, page: Page, base: str, *, counts_visible: bool = True) -> None:
    """The transparency page: totals over the public entries in the running (counted ones
    only while counts are shown), voided votes by entry and reason, held votes by entry,
    不公开 where a minor's figure would be, and a minor's count nowhere in its text."""
    shown = transparency(page, base, st.slug)
    public = st.public()
    splits = {e: st.tally.split(e) for e in st.running()}
    totals = {"待核实": sum(splits[e].held for e in public), "已作废": sum(splits[e].voided for e in public)}
    if counts_visible:
        totals["有效票"] = sum(splits[e].counted for e in public)
    st.same(stage, "transparency page: totals", shown["totals"], totals)
    voided = sorted([e, reason, str(n) if e not in st.minors else NOT_PUBLIC]
                    for e in st.running() for reason, n in st.tally.voided_by_reason(e).items())
    st.same(stage, "transparency page: voided votes by entry and reason", sorted(shown["voided"]), voided)
    reasons: Counter[str] = Counter()
    for e in public:
        reasons.update(st.tally.voided_by_reason(e))
    st.same(stage, "transparency page: voided votes by reason", sorted(map(tuple, shown["by_reason"])), sorted(reasons.items()))
    held = sorted([e, str(splits[e].held) if e not in st.minors else NOT_PUBLIC] for e in st.running() if splits[e].held)
    st.same(stage, "transparency page: held votes by entry", sorted(shown["held"]), held)
    for e in st.minors:
        st.same(stage, f"transparency page: where it names {st.name(e)} with a count", count_mentions(page, st.titles[e],
                st.tally.split(e).counted), [])


def check_back_office(st: Standing, stage: str, page: Page, base: str, *, entry_pages: tuple[int, ...] = ()) -> None:
    """The fraud desk (index, contest, entries) and the votes export: every entry with
    votes, those out of the running marked; the totals over the entries in the running."""
    with_votes = st.tally.entries()
    st.same(stage, "fraud desk /admin/fraud/<contest>", fraud_desk(page, base, st.contest_id),
            {e: (st.tally.split(e), e not in st.out) for e in with_votes})
    for e in entry_pages:
        st.same(stage, f"fraud desk of {st.name(e)} /admin/fraud/entries/<entry>", fraud_desk_entry(page, base, e),
                st.tally.split(e))
    running = [st.tally.split(e) for e in st.running()]
    st.same(stage, "fraud desk index /admin/fraud/", fraud_index(page, base, st.title),
            Split(sum(s.counted for s in running), sum(s.held for s in running), sum(s.voided for s in running)))
    st.same(stage, "votes export (CSV)", exported_votes(page, base, st.slug),
            {e: st.tally.split(e) for e in set(st.running()) | with_votes})


def check_results_preview(st: Standing, stage: str, page: Page, base: str) -> None:
    """The results desk's preview counts from the sealed ledger: sealed first."""
    st.same(stage, "results preview /admin/results/<slug>/", results_preview(page, base, st.slug),
            {e: st.tally.split(e) for e in st.running()})


def check_published(st: Standing, stage: str, page: Page, base: str, voters: dict[str, Voter],
                    others: tuple[str, ...] = ()) -> None:
    """The published results, each entry's result box, the voters' receipts and 我的投票."""
    shown = published_results(page, base, st.slug)
    cells = {int(e): v for e, v in shown["votes"].items()}
    st.same(stage, "published results /c/<slug>/results: 有效票数", cells,
            {e: NOT_PUBLIC if e in st.minors else str(st.tally.split(e).counted) for e in st.running()})
    st.same(stage, "published results: daily chart total", shown["day_total"],
            sum(st.tally.split(e).counted for e in st.public()))
    for e in st.minors:
        st.same(stage, f"published results: where it names {st.name(e)} with a count",
                count_mentions(page, st.titles[e], st.tally.split(e).counted), [])
    for e in st.running():
        st.same(stage, f"entry page of {st.name(e)}: result box 有效票数", entry_result_box(page, base, st.slug, e),
                NOT_PUBLIC if e in st.minors else str(st.tally.split(e).counted))
    check_receipts(st, stage, base, voters, sealed=True, others=others)


@dataclass
class Voter:
    """A citizen voting in the browser: their page (signed in) and the receipts they got."""

    page: Page
    receipts: list[str] = field(default_factory=list)


def check_receipts(st: Standing, stage: str, base: str, voters: dict[str, Voter], *, sealed: bool,
                   others: tuple[str, ...] = ()) -> None:
    """Each browser voter's 我的投票 and receipts, and the receipts of `others` (votes cast
    beside the browser, looked up by anyone who has the code): the state the tally knows,
    and (once the ledger is sealed) a proof that checks out."""
    any_page = next(iter(voters.values())).page
    for code in others:
        status, proven = receipt_status(any_page, base, code)
        st.same(stage, f"/receipts/{code}: status", status, st.tally.votes[code].status)
        st.same(stage, f"/api/v1/receipts/{code}: status", api_receipt_status(any_page, base, code), st.tally.votes[code].status)
        if sealed:
            st.checks.true(stage, f"/receipts/{code}", proven, "the ledger proof is missing or does not check out")
    for who, voter in voters.items():
        known = {code: st.tally.votes[code] for code in voter.receipts}
        st.same(stage, f"/me/votes (我的投票) of {who}", my_votes(voter.page, base),
                {code: "released" if v.status == "valid" and v.reason else v.status for code, v in known.items()})
        for code, vote in known.items():
            status, proven = receipt_status(voter.page, base, code)
            st.same(stage, f"/receipts/{code} of {who}: status", status, vote.status)
            if sealed:
                st.checks.true(stage, f"/receipts/{code} of {who}", proven, "the ledger proof is missing or does not check out")
