"""用户协议 and 隐私政策: reachable from every page, dated by the version registrations
store, and the retention periods the privacy policy states are the code's own."""

from __future__ import annotations

import re
from datetime import timedelta

from contest.accounts import service as accounts
from contest.antifraud import captcha
from contest.antifraud import service as antifraud
from contest.voting import housekeeping
from contest.voting import views as voting_views


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_both_documents_are_pages_with_the_current_version(client):
    for url, title in (("/terms", "用户协议"), ("/privacy", "隐私政策")):
        response = client.get(url)
        assert response.status_code == 200
        page = text(response)
        assert f"<h1>{title}</h1>" in page
        assert f"版本 {accounts.TERMS_VERSION}" in page
        assert "活动主办单位" in page  # whom to contact


def test_linked_from_the_footer_of_every_page(client):
    for url in ("/", "/account/login", "/no/such/page"):
        page = text(client.get(url))
        footer = page[page.index('<footer class="site-footer">'):]
        assert 'href="/terms"' in footer and 'href="/privacy"' in footer, url


def test_the_privacy_policy_covers_what_the_platform_collects(client):
    page = text(client.get("/privacy"))
    for section in ("collect", "keep", "who", "minors", "rights", "contact"):
        assert f'id="{section}"' in page and f'href="#{section}"' in page
    for words in ("手机号", "昵称", "网络地址", "设备标识", "投票凭证号", "监护人", "出生日期", "注销账号", "短信服务商"):
        assert words in page, words


def test_the_retention_periods_stated_are_the_codes(client):
    """If one of these changes, change the privacy policy (and TERMS_VERSION) with it."""
    page = re.sub(r"<[^>]+>", "", text(client.get("/privacy")))
    assert antifraud.OBSERVATIONS_KEPT == timedelta(days=7)
    assert "投票观察记录（网络地址、网段、设备标识和时间）7 天后自动删除" in page
    assert accounts.SIGN_IN_TTL == timedelta(days=30) and accounts.ENDED_SIGN_INS_KEPT == timedelta(days=7)
    assert "一次登录最长有效 30 天；退出或过期后，记录再保存 7 天后自动删除" in page
    assert housekeeping.REPLIES_KEPT == timedelta(days=2)
    assert "防止重复提交的记录2 天后自动删除" in page
    assert accounts.CODE_TTL == captcha.CAPTCHA_TTL == timedelta(minutes=5)
    assert "短信验证码、图形验证码5 分钟内有效" in page
    assert voting_views.DEVICE_COOKIE_AGE == 2 * 365 * 24 * 3600
    assert "设备标识（2 年）" in page
    assert "投票记录和公开账本作为活动结果的核查依据长期保存，不自动删除" in page


def test_the_registration_page_links_both(client):
    page = text(client.get("/account/register"))
    assert 'href="/terms"' in page and 'href="/privacy"' in page
