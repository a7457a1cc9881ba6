"""Headers every answer carries: no caching of case data, no sniffing, no framing, HTTPS only.

Answers carry case data or say something about a case, so none may be kept by a
browser or a proxy (``Cache-Control: no-store``) unless the route says otherwise
(the API documentation's static assets). Routes that serve a page set their own
``Content-Security-Policy``; every other answer is data, which no page may load
as a script or style or show in a frame.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_SECONDS = 2 * 365 * 24 * 3600
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
ALWAYS = {
    # This host only: other hosts of an office's domain may not speak HTTPS yet.
    "Strict-Transport-Security": f"max-age={HSTS_SECONDS}",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
UNLESS_SET = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": DATA_POLICY,
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                for name, value in UNLESS_SET.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
