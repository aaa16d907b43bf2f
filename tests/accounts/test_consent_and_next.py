"""Registration asks consent to the user agreement and the privacy policy, and stores it;
the page a visitor came from (`next`) survives the way between login and registration."""

from __future__ import annotations

import re
from html import unescape

import pytest

from contest.accounts import service as accounts

from .support import (
    CONSENT,
    LOGIN,
    REGISTER,
    find_user,
    html,
    register,
    request_code,
    sent_code,
    signed_in_as,
    sms_codes,
    user_count,
)

PHONE = "13800138000"
TERMS_MISSING = "请阅读并勾选同意《用户协议》。"
PRIVACY_MISSING = "请阅读并勾选同意《隐私政策》。"
OUTDATED = "用户协议或隐私政策已更新，请阅读后重新勾选同意。"


def hrefs(page: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def action_of(page: str, pattern: str) -> str:
    found = [unescape(a) for a in re.findall(r'<form method="post" action="([^"]+)"', page) if re.search(pattern, a)]
    assert len(found) == 1, found
    return found[0]


# --- consent ----------------------------------------------------------------------------

def test_the_register_form_links_both_documents_with_unticked_boxes(client):
    page = html(client.get(REGISTER))
    for name, link in (("accept_terms", "/terms"), ("accept_privacy", "/privacy")):
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'type="checkbox"' in box and "checked" not in box
        assert link in hrefs(page)
    assert f'name="terms_version" value="{accounts.TERMS_VERSION}"' in page


def test_registration_stores_the_consent_with_its_time_and_version(client, clock):
    request_code(client, PHONE)
    assert register(client, PHONE, sent_code(PHONE)).status_code == 302
    user = find_user(PHONE)
    assert user.terms_version == accounts.TERMS_VERSION
    assert user.terms_accepted_at == clock.now()


@pytest.mark.parametrize(("ticked", "messages"), [
    ({}, [TERMS_MISSING, PRIVACY_MISSING]),
    ({"accept_terms": "y"}, [PRIVACY_MISSING]),
    ({"accept_privacy": "y"}, [TERMS_MISSING]),
])
def test_without_both_ticks_nothing_is_stored_and_the_box_says_why(client, ticked, messages):
    request_code(client, PHONE)

    response = register(client, PHONE, sent_code(PHONE), consent={"terms_version": accounts.TERMS_VERSION, **ticked})

    assert response.status_code == 400
    page = html(response)
    for message in messages:
        # at the unticked box itself, tied to it for screen readers
        assert re.search(rf'<small id="accept_\w+-error" class="field-error consent-error">{message}</small>', page)
    assert page.count('aria-invalid="true"') == len(messages)
    assert user_count() == 0
    row = sms_codes(PHONE)[0]
    assert row.used_at is None and row.attempts == 0  # the code stays good for the next try
    assert register(client, PHONE, sent_code(PHONE)).status_code == 302


def test_a_form_showing_older_documents_is_refused(client):
    request_code(client, PHONE)

    response = register(client, PHONE, sent_code(PHONE), consent={**CONSENT, "terms_version": "2000-01-01"})

    assert response.status_code == 400
    assert OUTDATED in html(response)
    assert user_count() == 0
    assert sms_codes(PHONE)[0].used_at is None


def test_operators_accounts_have_no_consent_recorded(make_user):
    user = make_user()
    assert user.terms_version is None and user.terms_accepted_at is None


# --- next across login and registration ---------------------------------------------------

NEXT = "/c/meipai/entries/7?sort=votes"


def test_login_and_register_pages_link_to_each_other_with_next(client):
    login_page = html(client.get(LOGIN, query_string={"next": NEXT}))
    assert f"{REGISTER}?next={NEXT}" in [h.replace("%3F", "?").replace("%3D", "=") for h in hrefs(login_page)]

    register_page = html(client.get(REGISTER, query_string={"next": NEXT}))
    assert f"{LOGIN}?next={NEXT}" in [h.replace("%3F", "?").replace("%3D", "=") for h in hrefs(register_page)]
    assert "next=" in action_of(register_page, "sms-code")


def test_a_visitor_sent_to_log_in_who_registers_instead_lands_where_they_were(client):
    # the login page, then its link to registration
    login_page = html(client.get(LOGIN, query_string={"next": NEXT}))
    register_url = next(h for h in hrefs(login_page) if h.startswith(REGISTER))
    register_page = html(client.get(register_url))

    # step one: the code, sent from the form that carries next
    sent = client.post(action_of(register_page, "sms-code"), data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', register_page).group(1),
        "phone": PHONE, "purpose": "register"})
    assert sent.status_code == 302
    back = sent.headers["Location"]
    assert "phone=" + PHONE in back and "next=" in back

    # step two: the form on the page the code led to
    page = html(client.get(back))
    done = client.post(action_of(page, r"/account/register"), data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
        "phone": PHONE, "code": sent_code(PHONE), "display_name": "", "password": "Spring2023go",
        "confirm": "Spring2023go", **CONSENT})

    assert done.status_code == 302
    assert done.headers["Location"] == NEXT
    assert signed_in_as(client) == "138****8000"


def test_a_user_who_opens_registration_can_log_in_instead_and_land_on_next(client, make_user):
    user = make_user()
    register_page = html(client.get(REGISTER, query_string={"next": NEXT}))
    login_url = next(h for h in hrefs(register_page) if h.startswith(LOGIN + "?"))
    page = html(client.get(login_url))
    done = client.post(action_of(page, "/account/login"), data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
        "phone": user.phone, "password": "Passw0rd2023"})
    assert done.status_code == 302
    assert done.headers["Location"] == NEXT


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\t/evil.example"])
def test_links_between_the_pages_carry_no_outside_address(client, target):
    for url in (LOGIN, REGISTER):
        page = html(client.get(url, query_string={"next": target}))
        linked = [h for h in hrefs(page) if h.startswith((LOGIN, REGISTER))]
        assert linked and not any("evil" in h for h in linked), linked
        assert "evil" not in action_of(page, "sms-code") if url == REGISTER else True


def test_the_header_links_bring_a_visitor_back_to_the_page(client, make_contest):
    contest = make_contest()
    page = html(client.get(f"/c/{contest.slug}"))
    assert f"{LOGIN}?next=/c/{contest.slug}" in [h.replace("%2F", "/") for h in hrefs(page)]
    assert f"{REGISTER}?next=/c/{contest.slug}" in [h.replace("%2F", "/") for h in hrefs(page)]
