"""The checks of every page catch what they are there to catch: a page over its weight, an
axe-core violation, something the page's policy refused. Against a small local server
whose pages are made to fail one check each, with the same Chromium and StoryBrowser."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.pages import (
    FIRST_LOAD_BUDGET,
    INTERACTION_BUDGET,
    PageVisit,
    StoryBrowser,
    new_story_browser,
)

pytestmark = pytest.mark.browser

POLICY = "default-src 'none'; style-src 'self'; form-action 'self'"
# Over the budget of an interaction, well within a first load's; words, so the page wraps.
PADDING = "kata " * 12_000


def html(body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Check</title>'
        f"</head><body><main><h1>Check</h1>{body}</main></body></html>"
    ).encode()


PAGES = {
    "/heavy": html(f"<p>{PADDING}</p>"),
    "/form": html('<form method="post" action="/heavy"><button>Send</button></form>'),
    "/inline-style": html('<p style="color: red">Styled inline</p>'),
    "/unlabelled": html('<p><input type="text" name="who"></p>'),
}


class CheckPages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", POLICY)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(303)
        self.send_header("Location", "/heavy")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def check_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CheckPages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def checked(
    chromium: Browser, check_server: str, tmp_path: Path
) -> Iterator[tuple[StoryBrowser, list[PageVisit]]]:
    # Its own list of visits: these pages are not the application's and stay out of its table.
    visits: list[PageVisit] = []
    web = new_story_browser(chromium, check_server, "checks", tmp_path, visits)
    yield web, visits
    web.close()


def test_the_bytes_counted_are_the_bytes_sent(
    checked: tuple[StoryBrowser, list[PageVisit]],
) -> None:
    web, visits = checked
    web.visit("/heavy", "heavy page")
    body = len(PAGES["/heavy"])
    # The body and the answer's headers (a few hundred bytes), nothing more.
    assert body < visits[-1].transferred_bytes < body + 1_000 < FIRST_LOAD_BUDGET
    assert Path(visits[-1].screenshot).stat().st_size > 0


def test_an_interaction_over_its_budget_fails(
    checked: tuple[StoryBrowser, list[PageVisit]],
) -> None:
    web, visits = checked
    web.visit("/form", "form")
    with pytest.raises(AssertionError, match="over the interaction budget"):
        web.interact("send", lambda page: page.get_by_role("button", name="Send").click())
    # The redirect's answer and the page it leads to, counted together.
    assert visits[-1].path == "/heavy"
    assert visits[-1].transferred_bytes > len(PAGES["/heavy"]) > INTERACTION_BUDGET


def test_a_serious_axe_violation_fails(checked: tuple[StoryBrowser, list[PageVisit]]) -> None:
    web, visits = checked
    with pytest.raises(AssertionError, match="axe-core found"):
        web.visit("/unlabelled", "unlabelled field")
    assert [v["id"] for v in visits[-1].blocking_violations] == ["label"]


def test_what_the_page_policy_refuses_fails(
    checked: tuple[StoryBrowser, list[PageVisit]],
) -> None:
    web, visits = checked
    with pytest.raises(AssertionError, match="policy refused"):
        web.visit("/inline-style", "inline style")
    assert visits[-1].csp_refusals
