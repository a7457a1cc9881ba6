"""Fixtures of the browser stories: one `simpul run` and one headless Chromium per session,
a fresh browser context per story.

A story asks for ``simpul_server`` (people and cases: ``administrator()``,
``invited(by, role)``, ``reported_case()``) and ``browse``: ``browse()``,
``browse(locale="en-GB")`` or ``browse(name="stranger")`` opens a ``StoryBrowser``, whose
``visit(path, step)`` (a first load) and ``interact(step, action)`` (a click or a form
sent) screenshot, axe-check and weigh every page they reach (tests/browser/pages.py).
The screenshots and the table of every page (pages.md, pages.json) are written to
tests/browser/artefacts/ (not committed), and the table is printed at the end of the run.
"""

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.pages import PageVisit, StoryBrowser, new_story_browser, weight_table
from tests.browser.server import SimpulServer
from tests.support.infrastructure import PostgresServer

CHROMIUM = os.environ.get("SIMPUL_CHROMIUM", "/usr/bin/chromium")
# Playwright cannot download its own browser builds here: it drives Debian's Chromium
# (`make test` installs the package `chromium`: tools/ensure-chromium.sh), headless, with
# nothing that would reach beyond 127.0.0.1 (updates, sync, QUIC probes, first-run pages).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(__file__).parent / "artefacts"
_VISITS: list[PageVisit] = []


# Per module, not per session: Playwright's sync API keeps an event loop running in the
# main thread while it is open, and the tests collected after the browser ones (the
# benchmarks' smoke test) call asyncio.run, which refuses to start inside one.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install Debian's package "
            "'chromium' (`make test` does it as root), or set SIMPUL_CHROMIUM"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def simpul_server(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpulServer]:
    """`simpul run` over a database of its own, shared by the stories (each makes its
    own accounts, so none depends on another's lockouts or used codes)."""
    database_url = pg_server.create_database()
    folder = tmp_path_factory.mktemp("simpul-serve")
    server = SimpulServer(database_url, folder / "data", folder / "run.log").start()
    try:
        yield server
    finally:
        server.stop()
        pg_server.drop_database(database_url)


@pytest.fixture(scope="session")
def artefacts() -> Iterator[Path]:
    """A clean artefacts folder for this run; the table of pages is written on leaving."""
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    yield ARTEFACTS
    (ARTEFACTS / "pages.md").write_text(weight_table(_VISITS))
    (ARTEFACTS / "pages.json").write_text(json.dumps([visit.row() for visit in _VISITS], indent=1))


@pytest.fixture
def browse(
    chromium: Browser,
    simpul_server: SimpulServer,
    artefacts: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., StoryBrowser]]:
    """``browse(locale="id-ID", name=None, width=None)``: a fresh browser context for the
    story (a second one, ``name``d, for another person in it; ``width`` pixels wide for a
    phone), closed after the test."""
    opened: list[StoryBrowser] = []

    def open_story(
        *, locale: str = "id-ID", name: str | None = None, width: int | None = None
    ) -> StoryBrowser:
        story = request.node.name.removeprefix("test_")
        if name is not None:
            story = f"{story}-{name}"
        opened.append(
            new_story_browser(
                chromium,
                simpul_server.base_url,
                story,
                artefacts,
                _VISITS,
                locale=locale,
                width=width,
            )
        )
        return opened[-1]

    yield open_story
    for story_browser in opened:
        story_browser.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _VISITS:
        terminalreporter.section("browser pages: bytes transferred and axe-core violations")
        for line in weight_table(_VISITS).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"screenshots and pages.md/pages.json in {ARTEFACTS}")
