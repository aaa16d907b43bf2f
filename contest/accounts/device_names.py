"""A browser's user agent said the way a person names their device ("微信 · iPhone")."""

from __future__ import annotations

from ..i18n import _

# (marker in the user agent, name), first match wins: in-app browsers before the engines
# they embed, Edge before Chrome, Chrome before Safari (Chrome's agent names Safari too).
_APPS = (("MicroMessenger", "wechat"), ("AlipayClient", "alipay"), ("QQ/", "QQ"), ("MQQBrowser", "QQ"),
         ("Edg", "Edge"), ("Firefox", "Firefox"), ("Chrome", "Chrome"), ("CriOS", "Chrome"), ("Safari", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("HarmonyOS", "HarmonyOS"), ("Android", "Android"),
            ("Windows", "Windows"), ("Macintosh", "Mac"), ("Linux", "Linux"))


def device_name(user_agent: str | None) -> str:
    """"微信 · iPhone", "Chrome · Windows", or "未知浏览器" when nothing is recognised."""
    agent = user_agent or ""
    app = next((name for marker, name in _APPS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    labels = {"wechat": _("微信"), "alipay": _("支付宝")}
    app = labels.get(app, app)
    if app and system:
        return f"{app} · {system}"
    return app or system or _("未知浏览器")
