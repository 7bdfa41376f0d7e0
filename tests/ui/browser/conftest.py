"""Browser tests: the web chat served by `qa serve`, driven in Debian's headless Chromium by Playwright.

Playwright's own browser builds cannot be downloaded here (never run `playwright install`), so the
browser is the system one: $QA_CHROMIUM or /usr/bin/chromium (`make test` installs it as root).
Without it the tests skip with the reason shown, unless QA_REQUIRE_BROWSER=1 (CI), where they fail.

Every test here is marked `browser`, and every page asserts at teardown that it asked for nothing
outside this machine: the chat must work offline and leak no questions.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import pytest
from helpers import ARTICLE_PATH, ROOT, free_port, stop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install it with `sudo apt-get install chromium` (or point QA_CHROMIUM at a Chromium)"
# Several repeat Playwright's own defaults; listed so that staying offline does not rest on them.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # Chromium refuses to run as root with its sandbox, and CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
START_TIMEOUT = 180.0  # seconds for `qa serve` to build the index, load the answerer and answer "/"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under this folder `browser`, so `-m "not browser"` leaves the tier out."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item (`rep_call`), so the page fixture knows a test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("QA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"QA_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless Chromium for the session. Each `launch()` gets a fresh temporary profile: without a
    user-data-dir, Playwright makes a `playwright_chromiumdev_profile-*` folder in $TMPDIR and deletes
    it on close, so no state carries over from a person's browser or between runs. Each test then gets
    its own context (see `_open_page`): no cookies or storage shared between tests."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("browser tests need the `playwright` package: .venv/bin/pip install -e '.[dev]'")
    executable = os.environ.get("QA_CHROMIUM") or CHROMIUM
    if not os.access(executable, os.X_OK):
        _unavailable(f"no Chromium at {executable}: {INSTALL_HINT}")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Error as exc:
        playwright.stop()
        _unavailable(f"Chromium at {executable} did not start under Playwright: {exc}")
    log.info("Chromium %s from %s", browser.version, executable)
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class ServedApp:
    url: str
    corpus_dir: Path
    index_dir: Path
    log_path: Path


@pytest.fixture(scope="module")
def answerer() -> str:
    """Who answers in the served chat: $QA_BROWSER_ANSWERER, else the local model when installed (what
    a user of `make run` gets), else extractive. A test module may override this fixture."""
    from qa.llm import local_runtime_installed

    chosen = os.environ.get("QA_BROWSER_ANSWERER")
    return chosen or ("local" if local_runtime_installed() else "extractive")


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory, answerer: str) -> Iterator[ServedApp]:
    """`qa serve` on a free loopback port over a copy of the article, started once per test module
    (the index build and model load take a while). Its output goes to `log_path`."""
    root = tmp_path_factory.mktemp("served")
    corpus_dir, index_dir, log_path = root / "corpus", root / "index", root / "serve.log"
    corpus_dir.mkdir()
    shutil.copy2(ARTICLE_PATH, corpus_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(corpus_dir),
        "QA_INDEX_DIR": str(index_dir),
        "QA_ANSWERER": answerer,  # tests/conftest.py defaults QA_ANSWERER to extractive: say it here
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        while not _responds(url):
            waited = time.monotonic() - started
            if server.poll() is not None or waited > START_TIMEOUT:
                state = f"exited with {server.returncode}" if server.poll() is not None else "timed out"
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                pytest.fail(f"`qa serve` {state} after {waited:.0f} s before serving {url}:\n{tail}")
            time.sleep(0.5)
        log.info("qa serve (%s answers) up on %s in %.1f s", answerer, url, time.monotonic() - started)
        yield ServedApp(url, corpus_dir, index_dir, log_path)
    finally:
        stop(server, timeout=20)


@dataclass
class PageLog:
    """What a page did besides what the test asserts: every URL it asked for, console errors, and
    uncaught exceptions. Requests are checked by the `page` fixture; errors are for tests to judge."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not _is_local(url)]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in LOCAL_HOSTS


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("QA_ARTIFACTS_DIR") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page: Page, name: str) -> Path:
    """A full-page PNG in the artifacts folder: what a person would have seen, for review and for CI."""
    path = artifacts_dir() / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=path, full_page=True)
    log.info("screenshot %s", path)
    return path


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    """`shot(page, "name")` saves a full-page screenshot (see `save_screenshot`)."""
    return save_screenshot


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


def _open_page(
    browser: Browser, page_log: PageLog, request: pytest.FixtureRequest, **context_options: Any
) -> Iterator[Page]:
    """A page in its own context, recorded into `page_log`; a screenshot if the test failed.

    Requests are recorded on the context, which also sees those of service workers and popups; web
    sockets are not requests in Playwright, so the page reports them separately."""
    context = browser.new_context(**context_options)
    context.on("request", lambda req: page_log.requests.append(req.url))
    page = context.new_page()
    page.on("websocket", lambda ws: page_log.requests.append(ws.url))
    page.on("pageerror", lambda exc: page_log.page_errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_log.console_errors.append(message.text)

    page.on("console", on_console)
    try:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            save_screenshot(page, "FAILED-" + re.sub(r"[^\w.-]+", "_", request.node.name))
    finally:
        context.close()
    outside = page_log.outside_requests()
    assert not outside, "the page asked for URLs outside this machine:\n" + "\n".join(outside)


@pytest.fixture
def page(chromium_browser: Browser, page_log: PageLog, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A desktop-sized page (1280x900)."""
    yield from _open_page(chromium_browser, page_log, request, viewport=DESKTOP)


@pytest.fixture
def phone_page(
    chromium_browser: Browser, page_log: PageLog, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A phone-sized page (390x844, touch, mobile viewport meta honoured)."""
    yield from _open_page(chromium_browser, page_log, request, viewport=PHONE, is_mobile=True, has_touch=True)
