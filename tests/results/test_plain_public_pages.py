"""Public pages speak plainly: no command to run, and the ledger explained in one sentence,
with its technical proof (block hashes, Merkle roots, inclusion proofs) folded away in a
<details> element that says what it is.

Every public page of a demo-like week is rendered: a 最美职校生 contest with votes (held,
voided), a finalised round and published results, and a 全民美拍 contest with a citizen's
entry and its votes; a voter's receipts (sealed and not yet sealed), and their own votes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from contest.accounts.models import User
from contest.clock import FixedClock
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from tests.conftest import login

from .test_public_views import ADULT, build_selection_world

DETAILS = re.compile(r"<details\b.*?</details>", re.S)
TECHNICAL = ("默克尔", "Merkle", "merkle", "哈希")


def text_of(html: str) -> str:
    """What a reader sees: tags, scripts and styles removed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def check_plain(url: str, html: str) -> None:
    """No command anywhere; the ledger's technical words only inside a <details> with a summary."""
    text = text_of(html)
    assert "flask " not in text.lower(), url
    assert not re.search(r"\bverify\b", text, re.I), url
    unfolded = DETAILS.sub(" ", html)
    for word in TECHNICAL:
        assert word not in text_of(unfolded), (url, word)
    for block in DETAILS.findall(html):
        if any(word in block for word in TECHNICAL):
            summary = re.search(r"<summary>(.*?)</summary>", block, re.S)
            assert summary and summary.group(1).strip(), (url, block[:200])


def html_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_every_public_page_speaks_plainly(client: FlaskClient, make_contest: Callable[..., Contest],
                                          make_entry: Callable[..., Entry], make_school: Callable[..., Any],
                                          make_user: Callable[..., User], clock: FixedClock) -> None:
    world = build_selection_world(make_contest, make_entry, make_school, make_user, clock)
    world.publish()  # moves the clock past the selection's voting window, and seals its votes
    selection_receipt = world.votes[0].receipt
    # 全民美拍, voting now: a citizen's entries, voted for by a citizen who then looks at their receipts.
    meipai = make_contest(kind="media", stage="voting", title="技能：让生活更美好 全民美拍")
    photo, clip = (make_entry(meipai, title=title, category_id=meipai.categories[0].id) for title in ("泉城夜色", "晨光"))
    for entry in (photo, clip):
        db.session.get(Entry, entry.id).submitted_by_id = make_user(name="泉城摄影人").id
    db.session.commit()
    voter = make_user()
    sealed = voting.record_vote(db.session, voter=voter, entry_id=photo.id, now=clock.now()).vote
    db.session.commit()
    ledger.seal_pending(db.session, now=clock.now() + ledger.SEAL_GRACE)
    db.session.commit()
    unsealed = voting.record_vote(db.session, voter=voter, entry_id=clip.id, now=clock.now()).vote
    db.session.commit()

    pages = ["/", "/receipts", f"/receipts/{sealed.receipt}", f"/receipts/{unsealed.receipt}",
             f"/receipts/{selection_receipt}"]
    for contest, entry in ((world.contest, world.entry(ADULT)), (meipai, photo)):
        base = f"/c/{contest.slug}"
        pages += [base, f"{base}/entries", f"{base}/entries/{entry.id}", f"{base}/leaderboard", f"{base}/results",
                  f"{base}/transparency"]
    seen = {url: html_of(client, url) for url in pages}
    login(client, voter)
    seen["/me/votes"] = html_of(client, "/me/votes")
    for url, html in seen.items():
        check_plain(url, html)

    # The receipt says in one sentence what the ledger is, and folds the proof away.
    receipt = seen[f"/receipts/{sealed.receipt}"]
    assert "每一票都记入一本只能追加、不能改写的公开账本；凭投票凭证可以核对自己的票是否被如实记录。" in receipt
    assert "默克尔证明" in receipt and "证明验算通过" in receipt
    assert "尚未封存" in seen[f"/receipts/{unsealed.receipt}"]
    results_page = seen[f"/c/{world.slug}/results"]
    assert "每一票都记入一本只能追加、不能改写的公开账本" in results_page and "<details" in results_page
    assert "每一票都记入一本只能追加、不能改写的公开账本" in seen[f"/c/{world.slug}/transparency"]
