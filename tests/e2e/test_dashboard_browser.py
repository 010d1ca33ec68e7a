"""`advisor dashboard` as a user starts it: a real Streamlit server on 127.0.0.1, read by Debian's Chromium
(headless, through Selenium and chromium-driver; no browser is downloaded). The screenshot of the overview
is kept under build/test-artifacts/ (or $ADVISOR_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import psutil
import pytest

import advisor
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
) -> Iterator[tuple[str, advisor.Recommendation, int]]:
    """`advisor dashboard` on a free port over a copy of the seeded store: (url, the stored recommendation,
    pid). One server for the module: its tests only read what it serves."""
    home = tmp_path_factory.mktemp("dashboard") / "home"
    shutil.copytree(seeded_demo_store[0], home)
    rec = seeded_demo_store[1]
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
        yield url, rec, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_the_dashboard_listens_on_loopback_only(served: tuple[str, advisor.Recommendation, int]) -> None:
    _, _, pid = served
    listening = [c.laddr for c in psutil.Process(pid).net_connections("inet") if c.status == "LISTEN"]
    assert listening and {addr.ip for addr in listening} == {"127.0.0.1"}, listening


@pytest.mark.slow
def test_the_overview_renders_the_total_in_chromium(served: tuple[str, advisor.Recommendation, int]) -> None:
    reason = no_browser_reason()
    if reason is not None:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, rec, _ = served
    total = f"${rec.totals.recommended_usd_per_month:,.2f}"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1700",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(url)

        # Streamlit draws over a websocket after the page has loaded: wait for the text itself.
        def shown(d: webdriver.Chrome) -> str | bool:
            text: str = d.find_element(By.TAG_NAME, "body").text
            return text if total in text else False

        body = cast(str, WebDriverWait(driver, 90).until(shown))  # shown gives the text once it is there
        assert "Overview" in body and rec.scenario in body and "Traceback" not in body
        time.sleep(1.5)  # let the tables settle before the picture
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard-overview.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("dashboard", "--port", str(port))
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port")
