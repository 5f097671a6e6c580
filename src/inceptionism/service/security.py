"""Who may talk to the studio, and the headers every answer carries.

One ASGI middleware, in front of everything:

- **Host allow-list** (against DNS rebinding): the ``Host`` header must name this
  server (the loopback names when it listens on loopback; the bound address and the
  ``allowed_hosts`` otherwise), or the answer is 400.
- **Origin check** on state-changing requests (POST, PUT, PATCH, DELETE), and on every
  ``/api`` request: a browser request from another origin, or one the browser marks as
  cross-site or same-site (``Sec-Fetch-Site``), is refused (403), so no other web page
  (another port of this machine included) can queue or cancel dreams or make the
  studio compute (channel pictures, layer listings) through an ``<img>`` or a script.
- **Token** when one is set (``serve`` requires one on any address but loopback): every
  ``/api`` request carries it as ``Authorization: Bearer TOKEN`` or in the
  ``inceptionism_token`` cookie, which the page gets by being opened once as
  ``/?token=TOKEN``; otherwise 401.
- **Security headers** on every answer: ``X-Content-Type-Options: nosniff``, a
  Content-Security-Policy (the page loads only its own scripts and styles, no frames),
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.responses import JSONResponse

__all__ = ["Access", "Guard", "COOKIE", "is_loopback"]

COOKIE = "inceptionism_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """Who may use the service: the names it answers to and the token, if any."""

    hosts: tuple[str, ...] = LOOPBACK_NAMES  # Host header names accepted (any port); "*" = any
    token: str | None = None  # required on /api when set

    def allows_host(self, name: str) -> bool:
        return "*" in self.hosts or name.lower() in self.hosts


_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::[0-9]{1,5})?")


def _host_name(value: str) -> str | None:
    """The host part of a Host header (RFC 9110: a name, an IPv4 address or a bracketed IPv6
    address, then an optional port): "[::1]:8000" -> "::1", "a.b:80" -> "a.b"; None for
    anything else, such as "127.0.0.1:80@evil.example", which is no host a browser sends."""
    match = _HOST.fullmatch(value)
    if match is not None and match["v6"] is None:
        return match["name"]
    if match is not None:  # [IPv6]: written as the bare address is, so [0:0::1] is ::1 too
        value = match["v6"]
    try:
        return str(ipaddress.IPv6Address(value))  # a bare IPv6 address, as some clients write it
    except ValueError:
        return None


class Guard:
    """The ASGI middleware described above."""

    def __init__(self, app: Any, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        refusal = self._refusal(scope, headers, host)
        if scope["type"] == "websocket":  # the same checks before the handshake; a refusal is a 403
            if refusal is not None:
                return await send({"type": "websocket.close", "code": 1008, "reason": refusal[1][:120]})
            return await self.app(scope, receive, send)
        if refusal is not None:
            status, message = refusal
            answer = JSONResponse({"error": message, "field": None}, status, {k.decode(): v.decode() for k, v in HEADERS})
            return await answer(scope, receive, send)
        token_from_query = self._token_in_query(scope)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = list(HEADERS)
                if token_from_query:
                    cookie = f"{COOKIE}={token_from_query}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: dict, headers: dict[str, str], host: str) -> tuple[int, str] | None:
        name = _host_name(host)
        if name is None or not self.access.allows_host(name):
            return 400, f"this server does not answer to the host {host[:100]!r}"
        origin = headers.get("origin")  # a browser's; "null" from sandboxed pages and files
        foreign = origin is not None and urlsplit(origin).netloc.lower() != host.lower()
        api = scope["path"].startswith("/api")
        if (scope.get("method", "GET") in UNSAFE_METHODS or api) and foreign:
            return 403, "requests from other web sites are refused"
        if api and headers.get("sec-fetch-site") in ("cross-site", "same-site"):  # an <img> or script elsewhere
            return 403, "requests from other web sites are refused"
        if self.access.token and scope["path"].startswith("/api") and not self._has_token(headers):
            return 401, "this studio needs its token: Authorization: Bearer TOKEN (the page: open /?token=TOKEN once)"
        return None

    def _has_token(self, headers: dict[str, str]) -> bool:
        expected = (self.access.token or "").encode()
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and hmac.compare_digest(auth[7:].strip().encode(), expected):
            return True
        jar = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            return False
        given = jar.get(COOKIE)
        return given is not None and hmac.compare_digest(given.value.encode(), expected)

    def _token_in_query(self, scope: dict) -> str | None:
        """The token from ``/?token=...`` when it is right: the page's cookie is set from it."""
        if not self.access.token or scope["path"] != "/":
            return None
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return given if hmac.compare_digest(given.encode(), self.access.token.encode()) else None

