"""Start the real app in its own process and drive Debian's headless Chromium with Selenium.

Nothing is downloaded: the browser is /usr/bin/chromium and the driver /usr/bin/chromedriver
(Debian's chromium and chromium-driver); Selenium Manager is kept offline.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]  # testkit/ sits in the project root
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(db_path: Path, *, timeout_s: float = 120, **env: str) -> Iterator[str]:
    """Run ``python app.py`` on a free port against ``db_path``; yield its base URL."""
    port = free_port()
    environ = {
        **os.environ,
        "WATCHFLOOR_DATABASE_URL": f"sqlite:///{db_path}",
        "WATCHFLOOR_PORT": str(port),
        "WATCHFLOOR_LOG_LEVEL": "WARNING",
        # Export job files beside the test database, never in the checkout's var/; small
        # chunks, so the demo's few thousand rows take several steps of progress.
        "WATCHFLOOR_VAR_DIR": str(db_path.parent),
        "WATCHFLOOR_EXPORT_CHUNK_ROWS": "1000",
        **env,
    }
    log = (db_path.parent / "app.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}: {_tail(db_path)}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"app not healthy after {timeout_s}s: {_tail(db_path)}")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _tail(db_path: Path) -> str:
    return (db_path.parent / "app.log").read_text()[-2000:]


def make_driver(
    width: int = 1400, height: int = 900, download_dir: Path | None = None
) -> webdriver.Chrome:
    """Return a headless Debian Chromium driven by Debian's ChromeDriver.

    With ``download_dir``, downloads are saved there without asking.
    """
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if download_dir is not None:
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(download_dir),
                "download.prompt_for_download": False,
                "download.directory_upgrade": True,
            },
        )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    if download_dir is not None:
        # Headless Chromium ignores the download preference unless told through DevTools.
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(download_dir)},
        )
    return driver


DEMO_USER = "demo-officer"


def sign_in(driver: webdriver.Chrome, username: str, password: str) -> None:
    """Fill in and submit the sign-in page the driver is on; wait until it has left it."""
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin-submit").click()
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: urlparse(d.current_url).path != "/login"
        or d.find_elements(By.ID, "signin-message")
    )
    if urlparse(driver.current_url).path == "/login":
        message = driver.find_element(By.ID, "signin-message").text
        raise AssertionError(f"sign-in as {username} failed: {message}")


def open_dashboard(
    driver: webdriver.Chrome,
    base: str,
    path: str = "/",
    *,
    username: str = DEMO_USER,
    password: str | None = None,
) -> None:
    """Open a dashboard page as a signed-in user would reach it (signing in when asked to).

    Every browser test goes through here; the default user is the demo watch officer. A shared
    browser may still show an earlier test's page, whose live poll fails once that test's app
    has stopped: the page is left first and its log discarded, so a test reads only its own.
    """
    from security.users import DEMO_PASSWORD

    driver.get("about:blank")
    driver.get_log("browser")
    driver.get(base + path)
    if urlparse(driver.current_url).path == "/login":
        sign_in(driver, username, password or DEMO_PASSWORD)
