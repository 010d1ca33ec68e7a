"""`advisor dashboard` as a user starts it: a real Streamlit server on 127.0.0.1, read by Debian's Chromium
(headless, through Selenium and chromium-driver; no browser is downloaded). The screenshots of the overview,
a model, a language model and a report are kept under build/test-artifacts/ (or $ADVISOR_TEST_ARTIFACTS); the
README's pictures in docs/ are copies of them."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

import advisor
from advisor import render
from tests.dashboard_helpers import LLM_ONLY, seed_llm
from tests.helpers import REPO_ROOT, assert_one_line_error, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_LOG = REPO_ROOT / "build" / "apt-install.log"  # written by .ci/packages.sh
ARTIFACTS = Path(os.environ.get("ADVISOR_TEST_ARTIFACTS", REPO_ROOT / "build" / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def no_browser_reason() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if not missing:
        return None
    why = INSTALL_LOG.read_text(errors="replace").strip().splitlines()[-1:] if INSTALL_LOG.is_file() else []
    return f"no browser: {', '.join(missing)} missing ({why[0] if why else 'run .ci/packages.sh as root'})"


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer on {url} within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeded_demo_store: tuple[Path, advisor.Recommendation]
) -> Iterator[tuple[str, advisor.Recommendation, int, Path]]:
    """`advisor dashboard` on a free port over a copy of the seeded store, with a language model's
    recommendation an hour older than the demo's (the demo stays the scenario a page opens on): (url, the
    stored demo recommendation, pid, the store's home). One server for the module: its tests only read what
    it serves."""
    root = tmp_path_factory.mktemp("dashboard")
    home = root / "home"
    shutil.copytree(seeded_demo_store[0], home)
    rec = seeded_demo_store[1]
    seed_llm(home, root / "scenarios", clock=lambda: rec.created_at - dt.timedelta(hours=1))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ADVISOR_CONFIG"}  # as tests/conftest.py isolates
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", "dashboard", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**env, "ADVISOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, rec, proc.pid, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_the_dashboard_listens_on_loopback_only(
    served: tuple[str, advisor.Recommendation, int, Path],
) -> None:
    _, _, pid, _ = served
    listening = [c.laddr for c in psutil.Process(pid).net_connections("inet") if c.status == "LISTEN"]
    assert listening and {addr.ip for addr in listening} == {"127.0.0.1"}, listening


# Every page, with the text it shows once drawn (Streamlit draws over a websocket: wait for the text).
PAGE_VISITS = {
    "overview": ("", "Where the saving comes from"),
    "model": ("model?scenario=demo&model=doc-reranker", "Where the saving against today comes from"),
    "llm": (f"llm?scenario={LLM_ONLY}&model=chat", "TTFT and TPOT against load"),
    "bench": ("bench", "Capacity found"),
    "what-if": ("what-if?scenario=demo&model=fraud-scorer", "Run what-if"),
    "history": ("history?scenario=demo", "Applied changes"),
}
# A snake_case identifier (static_peak, usd_per_month): the pages speak in words. What a user types (a
# scenario key, a field path, a file) is shown as code, and code is left out of the words checked.
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
WORDS_ONLY = """
const style = document.createElement('style');
style.textContent = 'code, pre { display: none !important; }';
document.head.appendChild(style);
const text = document.body.innerText;
style.remove();
return text;
"""
PLOTS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => ({
  text: Array.from(p.querySelectorAll('text')).map(t => t.textContent).join('|'),
  bars: p.querySelectorAll('g.trace.bars g.point path').length,
  height: p.getBoundingClientRect().height,
}));
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Debian's, through chromium-driver)."""
    reason = no_browser_reason()
    if reason is not None:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, url: str, wanted: str) -> tuple[str, str]:
    """Load ``url`` and wait until its page shows ``wanted``: (its visible text, the same without code)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)

    def shown(d: Any) -> str | bool:
        text: str = d.find_element(By.TAG_NAME, "body").text
        running = d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
        return text if wanted in text and not running else False

    text = cast(str, WebDriverWait(driver, 90).until(shown))
    time.sleep(1.5)  # let the charts and tables settle
    return text, cast(str, driver.execute_script(WORDS_ONLY))


def _drawn(driver: Any, label: str | None) -> list[dict[str, Any]]:
    """The page's plotly charts once drawn: with ``label``, once the chart showing it has its bars (charts
    draw after the text, later still on a busy machine)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    seen: list[Any] = []

    def ready(d: Any) -> bool:
        seen[:] = d.execute_script(PLOTS)
        return label is None or any(label in p["text"] and p["bars"] > 0 for p in seen)

    try:
        WebDriverWait(driver, 60).until(ready)
        return list(seen)
    except TimeoutException:
        raise AssertionError(f"no chart showing {label!r} was drawn: {seen}") from None


@pytest.mark.slow
def test_every_page_renders_its_charts_in_words_in_chromium(
    served: tuple[str, advisor.Recommendation, int, Path], browser: Any
) -> None:
    url, rec, _, _ = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    checked: dict[str, str] = {}
    full: dict[str, str] = {}
    plots: dict[str, list[dict[str, Any]]] = {}
    for page, (path, wanted) in PAGE_VISITS.items():
        full[page], checked[page] = _open(browser, f"{url}/{path}", wanted)
        plots[page] = _drawn(browser, "Sharing load balancers" if page in ("overview", "model") else None)
        if page in ("overview", "model"):
            shot = ARTIFACTS / f"dashboard-{page}.png"
            assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    # the list of the page texts checked, kept beside the screenshots
    (ARTIFACTS / "dashboard-pages.txt").write_text(
        "".join(f"===== {page}\n{text}\n" for page, text in checked.items()), encoding="utf-8"
    )
    assert sorted(checked) == sorted(PAGE_VISITS)
    for page, text in checked.items():
        assert "Traceback" not in text and "Page not found" not in text, page
        assert not SNAKE.findall(text), (page, sorted(set(SNAKE.findall(text))))
    overview = full["overview"]
    assert rec.scenario in overview and render.usd(rec.totals.recommended_usd_per_month) in overview
    # the overview opens with today against recommended (by team) and the lever waterfall, both drawn
    by_team = [
        p for p in plots["overview"] if all(t in p["text"] for t in ("Today", "Recommended", "search"))
    ]
    assert by_team and by_team[0]["bars"] >= 2 * len({m.team for m in rec.models}), plots["overview"]
    levers = [p for p in plots["overview"] if "Instance type and platform" in p["text"]]
    assert len(levers) == 1 and levers[0]["height"] > 100, plots["overview"]
    fleet = rec.totals.savings_by_lever
    assert levers[0]["bars"] == len(fleet) + 3  # today, the levers, recommended, then with the Savings Plan
    for part in fleet:
        assert render.signed_usd(-part.usd_per_month) in levers[0]["text"], part.lever
    model_levers = [p for p in plots["model"] if "Autoscaling and schedules" in p["text"]]
    assert len(model_levers) == 1 and model_levers[0]["bars"] >= 7, plots["model"]


@pytest.mark.slow
def test_the_llm_page_shows_the_stored_token_prices_in_chromium(
    served: tuple[str, advisor.Recommendation, int, Path], browser: Any
) -> None:
    """The LLM model page as a user opens it from the overview's link: the stored $/M blended tokens and
    $/month as the CLI writes them, its traffic chart and the baselines' bars drawn (the README's picture)."""
    url, _, _, home = served
    (m,) = advisor.stored_recommendation(scenario=LLM_ONLY, settings=advisor.Settings(home=home)).llm_models
    blended = render.per_m(m.tokens.usd_per_m_blended)
    text, words = _open(browser, f"{url}/llm?scenario={LLM_ONLY}&model=chat", "TTFT and TPOT against load")
    assert "$/M blended tokens" in text and blended in text, text[:2000]
    assert render.usd(m.usd_per_month) in text and render.per_m(m.tokens.usd_per_m_input) in text
    assert "Traceback" not in text and not SNAKE.findall(words), sorted(set(SNAKE.findall(words)))
    plots = _drawn(browser, blended)  # the baselines' bars carry the $/M figures
    traffic = [p for p in plots if "requests/s" in p["text"] and "output tokens/s" in p["text"]]
    assert len(traffic) == 1 and traffic[0]["height"] > 300, plots
    latency = [p for p in plots if "TTFT SLO p99" in p["text"] and "TPOT SLO p99" in p["text"]]
    assert len(latency) == 1, plots
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard-llm.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_a_team_report_renders_in_chromium(
    served: tuple[str, advisor.Recommendation, int, Path], browser: Any, tmp_path: Path
) -> None:
    """The search team's report as `advisor report preview` writes it, drawn by Chromium (the README's
    picture), with its levers."""
    home = served[3]
    out = tmp_path / "search.html"
    env = {**os.environ, "ADVISOR_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "advisor", "report", "preview", "examples/demo-scenario.yaml", "--team",
         "search", "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _, text = _open(browser, out.as_uri(), "Where the saving against today comes from")
    assert "Sharing load balancers" in text and not SNAKE.findall(text), sorted(set(SNAKE.findall(text)))
    shot = ARTIFACTS / "report-search.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("dashboard", "--port", str(port))
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port")
