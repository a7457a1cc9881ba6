"""The interactive API documentation, served entirely by the API itself.

Offices may have no internet, and a page loading scripts from a public CDN would let
that CDN run code next to a logged-in officer's token. Swagger UI's files come from
the pinned ``fastapi-offline`` package and are served under ``<prefix>/docs/assets``.
"""

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

ASSETS = files("fastapi_offline") / "static"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


class _Assets(StaticFiles):
    """The documentation's files: the same for everyone, so they may be cached."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def cacheable(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "public, max-age=86400"
            await send(message)

        await super().__call__(scope, receive, cacheable)


def install_docs(app: FastAPI, prefix: str) -> None:
    assets = f"{prefix}/docs/assets"
    app.mount(assets, _Assets(directory=str(ASSETS)), name="docs-assets")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def documentation() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=f"{prefix}/openapi.json",
            title="Simpul API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = PAGE_POLICY
        return page
