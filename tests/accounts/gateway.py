"""A local HTTP server standing in for an SMS gateway's API endpoint: it records each
request the real SDK signed and sent, and answers with the gateway's own JSON shapes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contest.accounts.sms import AliyunSmsSender, SmsSender, TencentSmsSender
from contest.config import Settings

TEMPLATES = {
    "aliyun": {"register_code": "SMS_465401", "reset_code": "SMS_465402", "already_registered": "SMS_465403",
               "notice": "SMS_465404"},
    "tencent": {"register_code": "2145001", "reset_code": "2145002", "already_registered": "2145003",
                "notice": "2145004"},
}
KEY_IDS = {"aliyun": "LTAI5tQ3exampleKey1234", "tencent": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3example"}
SECRET = "gateway-secret-0123456789abcdef"
SIGN_NAME = "济南职教"
SDK_APP_ID = "1400787878"


def aliyun_ok(request_id: str = "F655A8D5-B967-440B-8683-DAD6FF8DE990") -> dict[str, Any]:
    return {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": request_id}


def aliyun_error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"Code": code, "Message": message, "RequestId": "A1B2C3D4-0000-4000-8000-ERR000000001"}


def tencent_status(code: str = "Ok", message: str = "send success", phone: str = "+8613800138000") -> dict[str, Any]:
    serial = "2645:1045710669157053657849499619" if code == "Ok" else ""
    return {"Response": {"SendStatusSet": [{"SerialNo": serial, "PhoneNumber": phone, "Fee": 1 if code == "Ok" else 0,
                                            "SessionContext": "", "Code": code, "Message": message, "IsoCode": "CN"}],
                         "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}


def tencent_error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "b1bbcec7-0000-4000-8000-err000000001"}}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Gateway:
    server: ThreadingHTTPServer
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def answer(self, payload: dict[str, Any], status: int = 200) -> None:
        """The next answer (the last one given repeats)."""
        self.answers.append((status, payload))

    def next_answer(self) -> tuple[int, dict[str, Any]]:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            with gateway.lock:
                gateway.seen.append(Seen("POST", parts.path, parse_qs(parts.query), dict(self.headers.items()), body))
            status, payload = gateway.next_answer()
            out = json.dumps(payload).encode()
            self.send_response(status)
            # Exactly as the gateways answer: Tencent's SDK reads errors only from this type.
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    gateway = Gateway(server)
    server.RequestHandlerClass = _handler(gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_endpoint() -> str:
    """host:port where nothing listens (a port just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
    return f"{host}:{port}"


def gateway_settings(provider: str, endpoint: str, tmp_path: Path, **more: Any) -> Settings:
    """Settings as an operator would give them, pointed at the local endpoint, validated."""
    return Settings(
        env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40, database_url="sqlite://",
        sms_backend=provider, sms_access_key_id=KEY_IDS[provider], sms_access_key_secret=SECRET,
        sms_sign_name=SIGN_NAME, sms_region="cn-hangzhou" if provider == "aliyun" else "ap-guangzhou",
        sms_sdk_app_id=SDK_APP_ID if provider == "tencent" else "", sms_endpoint=endpoint, sms_protocol="http",
        sms_timeout=3, sms_templates=TEMPLATES[provider], **more,
    ).with_defaults()


def make_gateway_sender(provider: str, endpoint: str, tmp_path: Path, **more: Any) -> SmsSender:
    settings = gateway_settings(provider, endpoint, tmp_path, **more)
    return AliyunSmsSender(settings) if provider == "aliyun" else TencentSmsSender(settings)
