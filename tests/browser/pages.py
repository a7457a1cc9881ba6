"""Each page a story visits, in a real Chromium: a screenshot, axe-core, and its weight.

``StoryBrowser.visit(path, step)`` is a first load (the browser's cache off, so everything
the page needs is counted: at most 200 kB); ``StoryBrowser.interact(step, action)`` is what
follows a click or a form sent (the cache as a browser keeps it: at most 50 kB, the POST's
answer, its redirect and the page it leads to together). Both screenshot the page they end
on, run axe-core on it (no serious or critical violation), check that the page's
Content-Security-Policy refused nothing it asked for, and record one ``PageVisit`` for the
session's table (tests/browser/artefacts/pages.md).

Bytes are counted from the DevTools protocol's network events: ``encodedDataLength``, what
came over the connection (headers and compressed body) for every request the navigation
made, redirects included; a request answered from the cache adds nothing.
"""

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Response

FIRST_LOAD_BUDGET = 200_000
INTERACTION_BUDGET = 50_000
BLOCKING_IMPACTS = ("serious", "critical")
AXE = Axe()
# Time for the network events of a navigation to arrive after its load event.
SETTLE_MS = 5_000


@dataclass
class PageVisit:
    """One page a story reached, with what it weighed and what axe-core found on it."""

    story: str
    step: str
    path: str
    status: int
    kind: str  # "first load" or "interaction"
    transferred_bytes: int
    budget_bytes: int
    requests: int
    violations: list[dict[str, Any]]
    screenshot: str
    csp_refusals: list[str] = field(default_factory=list)

    @property
    def blocking_violations(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["impact"] in BLOCKING_IMPACTS]

    def row(self) -> dict[str, Any]:
        return asdict(self)


class TransferMeter:
    """Bytes received by one page, from its DevTools protocol session's network events."""

    def __init__(self, cdp: CDPSession) -> None:
        self.cdp = cdp
        self.transferred = 0
        self.requests = 0
        self.in_flight: set[str] = set()
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.send("Network.enable")

    def reset(self) -> None:
        self.transferred = 0
        self.requests = 0

    def cache(self, *, enabled: bool) -> None:
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": not enabled})

    def _sent(self, event: dict[str, Any]) -> None:
        # A redirect reuses the request's id: the redirect's own answer arrives here.
        redirect = event.get("redirectResponse")
        if redirect is not None:
            self.transferred += int(redirect.get("encodedDataLength", 0))
        else:
            self.requests += 1
        self.in_flight.add(event["requestId"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.transferred += int(event.get("encodedDataLength", 0))
        self.in_flight.discard(event["requestId"])

    def _failed(self, event: dict[str, Any]) -> None:
        self.in_flight.discard(event["requestId"])


class StoryBrowser:
    """One browser context (cookies, cache, language) and its page, for one story."""

    def __init__(
        self,
        context: BrowserContext,
        base_url: str,
        story: str,
        artefacts: Path,
        visits: list[PageVisit],
    ) -> None:
        self.context = context
        self.base_url = base_url
        self.story = story
        self.artefacts = artefacts
        self.visits = visits
        self.page = context.new_page()
        self.meter = TransferMeter(context.new_cdp_session(self.page))
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))

    def visit(self, path: str, step: str, *, status: int = 200) -> Response:
        """Open ``path`` as a first load (nothing cached) and check the page."""
        self.meter.cache(enabled=False)
        try:
            response = self._measured(
                lambda: self.page.goto(self.base_url + path), step, "first load", status
            )
        finally:
            self.meter.cache(enabled=True)
        return response

    def interact(
        self, step: str, action: Callable[[Page], object], *, status: int = 200
    ) -> Response:
        """Do ``action`` (a click that sends a form or follows a link) and check the page
        it leads to, the redirects on the way counted with it."""

        def navigate() -> Response | None:
            with self.page.expect_navigation() as navigation:
                action(self.page)
            return navigation.value

        return self._measured(navigate, step, "interaction", status)

    def _measured(
        self, navigate: Callable[[], Response | None], step: str, kind: str, status: int
    ) -> Response:
        self.meter.reset()
        self.console.clear()
        response = navigate()
        assert response is not None, f"{step}: no navigation"
        self.page.wait_for_load_state("load")
        self._settle()
        transferred, requests = self.meter.transferred, self.meter.requests
        visit = PageVisit(
            story=self.story,
            step=step,
            path=re.sub(r"^https?://[^/]+", "", self.page.url),
            status=response.status,
            kind=kind,
            transferred_bytes=transferred,
            budget_bytes=FIRST_LOAD_BUDGET if kind == "first load" else INTERACTION_BUDGET,
            requests=requests,
            violations=self._axe_violations(),
            screenshot=str(self._screenshot(step)),
            csp_refusals=[text for text in self.console if "Content Security Policy" in text],
        )
        self.visits.append(visit)
        assert visit.status == status, f"{step}: HTTP {visit.status}, expected {status}"
        assert visit.transferred_bytes <= visit.budget_bytes, (
            f"{step}: {visit.transferred_bytes} bytes transferred, over the {kind} budget "
            f"of {visit.budget_bytes}"
        )
        assert not visit.blocking_violations, f"{step}: axe-core found " + json.dumps(
            visit.blocking_violations, indent=1
        )
        assert not visit.csp_refusals, f"{step}: the page's policy refused {visit.csp_refusals}"
        return response

    def _settle(self) -> None:
        """Wait until every request the navigation started has finished (its bytes counted)."""
        waited = 0
        while self.meter.in_flight and waited < SETTLE_MS:
            self.page.wait_for_timeout(10)
            waited += 10

    def _axe_violations(self) -> list[dict[str, Any]]:
        # page.evaluate runs axe-core through the DevTools protocol, which the page's CSP
        # (no script at all) does not govern; a <script> tag (add_script_tag) would be
        # refused. So the context keeps the page's policy (no bypass_csp): the page is
        # checked, screenshot and weighed as a user's browser shows it under that policy.
        results = AXE.run(self.page)
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "nodes": [node["target"] for node in violation["nodes"]],
            }
            for violation in results.response["violations"]
        ]

    def _screenshot(self, step: str) -> Path:
        number = sum(1 for visit in self.visits if visit.story == self.story) + 1
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.artefacts / self.story / f"{number:02d}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def new_story_browser(
    browser: Browser,
    base_url: str,
    story: str,
    artefacts: Path,
    visits: list[PageVisit],
    *,
    locale: str = "id-ID",
    width: int | None = None,
) -> StoryBrowser:
    """A fresh context: no cookies, an empty cache, the browser's language ``locale``
    (which Chromium sends as Accept-Language), and a phone's screen ``width`` wide."""
    viewport = {"width": width, "height": 740} if width else None
    context = browser.new_context(locale=locale, bypass_csp=False, viewport=viewport)  # type: ignore[arg-type]
    return StoryBrowser(context, base_url, story, artefacts, visits)


def weight_table(visits: list[PageVisit]) -> str:
    """The session's pages as a Markdown table: weight against budget, axe-core's findings."""
    lines = [
        "| story | step | page | HTTP | kind | bytes | budget | requests | axe violations |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for visit in visits:
        found = ", ".join(f"{v['id']} ({v['impact']})" for v in visit.violations) or "none"
        lines.append(
            f"| {visit.story} | {visit.step} | {visit.path} | {visit.status} | {visit.kind} | "
            f"{visit.transferred_bytes} | {visit.budget_bytes} | {visit.requests} | {found} |"
        )
    return "\n".join(lines) + "\n"
