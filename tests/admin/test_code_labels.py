"""The back office and its exports show stored codes in words: audit actions and their
targets, round kinds and states, anti-fraud reasons, entry statuses, roles and the captcha
mode. Each code with words (contest.i18n.code_labels) is rendered and looked for: its words
are on the page and the code is not, in anything a person reads."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from contest import jobs  # noqa: F401  (registers the words of the audit rows the job runner writes)
from contest.accounts import audit
from contest.accounts import service as accounts
from contest.accounts.models import ROLES, AuditEvent, User
from contest.clock import FixedClock
from contest.contests import service as contests_service
from contest.contests.models import Contest, Entry
from contest.contests.rules import RULES_BY_KEY
from contest.extensions import db
from contest.i18n import label_of, label_set
from contest.judging.models import Round
from contest.media import (
    moderation,
    withdrawals,  # noqa: F401  (registers the words of withdrawal requests' audit rows)
)
from contest.voting import review
from tests.conftest import submit
from tests.results.test_public_views import YOUNG_ADULT, World, build_selection_world

from .conftest import sign_in

SOURCE = Path(__file__).resolve().parents[2] / "contest"


def text_of(html: str) -> str:
    """What a reader sees: no tags (so no attribute values), scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def page_text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return text_of(response.get_data(as_text=True))


def no_code(text: str, codes: Any, where: str) -> None:
    for code in codes:
        assert not re.search(rf"(?<![\w.]){re.escape(code)}(?![\w.])", text), (where, code)


def written_audit_actions() -> set[str]:
    """Every audit action the code can write: the literals, and the families built from a code."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        found |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    found |= {f"entry.{d}" for d in moderation.DECISIONS} | set(review.ACTIONS.values())
    found |= {"round.open", "round.reopen", "round.closed", "round.finalised"}  # judging.set_state
    found |= {"results.formula", "results.formula_override"}
    return found


def test_every_audit_action_the_code_writes_has_words() -> None:
    actions = written_audit_actions()
    assert len(actions) > 30  # the search found them
    assert actions - set(label_set("audit_action")) == set()
    assert {"contest", "school", "user", "entry", "duplicate_flag", "round", "score", "publication", "objection"} \
        <= set(label_set("audit_target"))


def _busy_week(app: Flask, make_contest: Callable[..., Contest], make_entry: Callable[..., Entry],
               make_school: Callable[..., Any], make_user: Callable[..., User], clock: FixedClock) -> World:
    """最美职校生 voted on (a held vote, voided ones), judged and published; 全民美拍 entries
    moderated every way; a citizen made a judge."""
    world = build_selection_world(make_contest, make_entry, make_school, make_user, clock)
    world.publish()
    meipai = make_contest(kind="media", stage="review")
    entries = [make_entry(meipai, status="submitted", title=f"待审{n}") for n in range(3)]
    organiser = world.organisers[0]
    sender = app.extensions["sms_sender"]
    for entry, decision in zip(entries, moderation.DECISIONS, strict=True):
        moderation.decide(db.session, sender, actor=organiser, entry_ids=[entry.id], decision=decision,
                          reason="" if decision == "approve" else "请补充作品说明。", now=clock.now())
    make_entry(meipai, status="submitted", title="排队中")
    accounts.set_roles(db.session, actor=organiser, user=make_user(), roles={"citizen", "judge"}, now=clock.now())
    db.session.commit()
    return world


def test_back_office_pages_and_exports_show_words_not_codes(app: Flask, client: FlaskClient,
                                                            make_contest: Callable[..., Contest],
                                                            make_entry: Callable[..., Entry], make_school: Callable[..., Any],
                                                            make_user: Callable[..., User], clock: FixedClock) -> None:
    world = _busy_week(app, make_contest, make_entry, make_school, make_user, clock)
    sign_in(client, make_user("admin"))  # the whole log, platform-wide rows too, is the operators'

    # The audit trail: every action present, filtered one by one, in words; targets too.
    present = audit.known_actions(db.session)
    assert {"votes.void", "entry.approve", "entry.reject", "entry.return", "round.finalised", "results.publish",
            "user.roles", "contest.create"} <= set(present)
    whole = page_text(client, "/admin/audit")
    no_code(whole, present, "/admin/audit")
    for action in present:
        text = page_text(client, f"/admin/audit?action={action}")
        assert label_of("audit_action", action) != action and label_of("audit_action", action) in text, action
        no_code(text, present, action)
    for target in ("round", "entry", "contest", "publication", "user"):
        words = label_of("audit_target", target)
        assert words != target
        events, _total = audit.list_events(db.session, target_type=target, limit=1)
        text = page_text(client, f"/admin/audit?target={target}")
        assert f"{words} #{events[0].target_id}" in re.sub(r"\s+", " ", text), target
        assert f"{target} #" not in text, target

    # The audit export: the words where the page has them, the codes in columns of their own.
    rows = list(csv.reader(io.StringIO(client.get(f"/admin/results/{world.slug}/export/audit.csv")
                                       .get_data().decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:8] == ["时间", "操作人", "操作", "对象类型", "对象编号", "摘要", "变更前", "变更后"]
    assert header[8:] == ["操作代码", "对象类型代码"]
    # One contest's actions only (the audit export is per contest), each of them there.
    contest_id = contests_service.get_contest(db.session, world.slug).id
    own, _total = audit.list_events(db.session, contest_id=contest_id, limit=1000)
    assert len(body) == len(own) > 10
    assert {row[header.index("操作代码")] for row in body} == {e.action for e in own}
    for row in body:
        code, target = row[header.index("操作代码")], row[header.index("对象类型代码")]
        assert row[header.index("操作")] == label_of("audit_action", code) != code
        assert row[header.index("对象类型")] == label_of("audit_target", target) != target
    exports_page = page_text(client, f"/admin/results/{world.slug}/exports")
    no_code(exports_page, present, "exports")

    # Rounds: their kind and state in words.
    rnd = db.session.query(Round).filter_by(contest_id=world.contest.id).one()
    for url in ("/admin/judging/", f"/admin/judging/rounds/{rnd.id}"):
        text = page_text(client, url)
        assert "网络评审" in text and "已定稿" in text, url
        no_code(text, ("review", "live", "draft", "open", "closed", "finalised"), url)

    # The fraud review: the held vote's reasons in words.
    held_entry = world.entry(YOUNG_ADULT)
    text = page_text(client, f"/admin/fraud/entries/{held_entry.id}")
    assert label_of("fraud_reason", "subnet_velocity") in text
    no_code(text, label_set("fraud_reason"), "fraud entry")

    # Moderation: every status in words, on the tabs and on each entry.
    text = page_text(client, "/admin/moderation/?status=all")
    for status in ("draft", "submitted", "approved", "rejected"):
        assert label_of("entry_status", status) in text, status
    no_code(text, ("draft", "submitted", "approved", "rejected", "withdrawn", "all"), "moderation")

    # Roles and the captcha mode, with what the mode means.
    text = page_text(client, "/admin/users")
    assert all(label_of("role", r) in text for r in ROLES)
    no_code(text, ROLES, "users")
    text = page_text(client, f"/admin/contests/{world.contest.id}")
    for mode in RULES_BY_KEY["captcha_mode"].choices:
        assert label_of("captcha_mode", mode) in text, mode
    no_code(text, RULES_BY_KEY["captcha_mode"].choices, "contest form")
    assert "投票时什么时候要填图形验证码" in text and "系统判断有风险时才要" in text

    # The formula editor names the rounds it may use by their names as well as their keys.
    assert "expert：专家评审" in page_text(client, f"/admin/results/{world.slug}/formula")


def audit_changes(client: FlaskClient, action: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The before and after of each event of an action on the audit page, as the JSON shown."""
    page = client.get(f"/admin/audit?action={action}").get_data(as_text=True)
    cells = re.findall(r'<td class="diff">(.*?)</td>', page, re.S)
    assert cells, action

    def parsed(part: str) -> dict[str, Any]:
        block = re.search(r"<pre>(.*?)</pre>", part, re.S)
        return json.loads(html.unescape(block.group(1))) if block else {}
    arrow = '<span aria-hidden="true">→</span>'
    return [(parsed(c.partition(arrow)[0]), parsed(c.partition(arrow)[2])) for c in cells]


def test_the_audit_json_gives_each_code_its_words_beside_the_code(app: Flask, client: FlaskClient,
                                                                  make_contest: Callable[..., Contest],
                                                                  make_entry: Callable[..., Entry],
                                                                  make_school: Callable[..., Any],
                                                                  make_user: Callable[..., User], clock: FixedClock) -> None:
    _busy_week(app, make_contest, make_entry, make_school, make_user, clock)
    sign_in(client, make_user("admin"))  # the whole log, platform-wide rows too, is the operators'

    ((before, after),) = audit_changes(client, "entry.approve")
    assert (before["status"], before["status_label"]) == ("submitted", "待审核")
    assert (after["status"], after["status_label"]) == ("approved", "已通过")
    ((before, after),) = audit_changes(client, "entry.return")
    assert (after["status"], after["status_label"]) == ("draft", "待修改")
    ((before, after),) = audit_changes(client, "user.roles")
    assert after["roles"] == ["citizen", "judge"] and after["roles_label"] == ["公众", "评委"]
    assert before["roles"] == ["citizen"] and before["roles_label"] == ["公众"]
    voided = audit_changes(client, "votes.void")
    assert all(a["status"] == {"voided": a["count"]} and a["status_label"] == {"voided": "作废"} for _b, a in voided)
    assert all(set(b["status_label"]) == set(b["status"]) and "有效" in b["status_label"].values() for b, _a in voided)
    ((before, after),) = audit_changes(client, "round.finalised")
    assert (before["state_label"], after["state_label"]) == ("已截止", "已定稿")
    created = audit_changes(client, "contest.create")
    assert {(a["kind"], a["kind_label"]) for _b, a in created} == {("selection", "网络评选"), ("media", "全民美拍")}
    assert all(a["rules.captcha_mode_label"] == label_of("captcha_mode", a["rules.captcha_mode"]) != a["rules.captcha_mode"]
               for _b, a in created)

    # The export's 变更前 / 变更后 cells carry the same JSON.
    approved_in = db.session.scalar(select(Contest.slug).join(AuditEvent, AuditEvent.contest_id == Contest.id)
                                    .where(AuditEvent.action == "entry.approve"))
    rows = list(csv.reader(io.StringIO(client.get(f"/admin/results/{approved_in}/export/audit.csv?action=entry.approve")
                                       .get_data().decode("utf-8-sig"))))
    header, (row, *_rest) = rows[0], rows[1:]
    assert json.loads(row[header.index("变更后")])["status_label"] == "已通过"
    assert json.loads(row[header.index("变更前")])["status"] == "submitted"

    # In English, the words are English and the codes stay.
    client.get("/lang/en?next=/")
    ((before, after),) = audit_changes(client, "entry.approve")
    assert (after["status"], after["status_label"]) == ("approved", "Approved")
    ((_before, after),) = audit_changes(client, "user.roles")
    assert after["roles"] == ["citizen", "judge"] and after["roles_label"][1] == "Judge"


def test_every_set_of_words_the_audit_names_is_registered(app: Flask) -> None:
    for family, keys in audit.CODED_VALUES.items():
        assert any(a.startswith(f"{family}.") for a in label_set("audit_action")), family
        for key, codes in keys.items():
            assert label_set(codes), (family, key, codes)
    assert audit.labelled("entry.approve", {"status": "approved", "moderation_reason": ""}) == {
        "status": "approved", "status_label": "已通过", "moderation_reason": ""}
    assert audit.labelled("school.update", {"status": "x"}) == {"status": "x"}  # no codes in that family
    assert audit.labelled("entry.approve", None) is None


def test_a_role_refused_is_named_in_words(client: FlaskClient, make_user: Callable[..., User]) -> None:
    organiser = make_user("organiser")
    sign_in(client, organiser)
    citizen = make_user()
    response = submit(client, f"/admin/users?phone={citizen.phone}", {"roles": ["citizen", "admin"]},
                      action=f"/admin/users/{citizen.id}/roles")
    assert response.status_code == 403
    text = text_of(response.get_data(as_text=True))
    assert "您无权更改这些角色：管理员" in text and "admin" not in text


def test_a_code_without_words_is_shown_as_it_is() -> None:
    assert label_of("role", "judge") == "评委"
    assert label_of("role", "someone-new") == "someone-new" and label_of("role", None) == ""
