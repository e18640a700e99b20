"""The connection form in a real browser: Airflow's API server + headless Debian Chromium.

Adds a Stripe connection through the UI, checks the relabelled and custom fields
(and that hidden ones are hidden), saves it, presses Test against the local fake
Stripe, and keeps screenshots in ``test-artifacts/``. The key never shows in the
page after saving.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import free_port, wait_until_serving
from tests.stripe_server import FakeStripe

#: The UI redraws while it loads: an element read between two renders is stale, so try again.
REDRAWN = (StaleElementReferenceException,)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
KEY = "sk_test_browserformkey7f3a"


@pytest.fixture(scope="module")
def api_server(airflow_db: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    }
    log = (airflow_db / "api-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "airflow_api_server.py"), "127.0.0.1", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(
            f"{url}/api/v2/monitor/health",
            process,
            timeout=120,
            what=f"the API server ({airflow_db}/api-server.log)",
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "make test installs chromium and chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1400",
    ):
        options.add_argument(flag)
    profile = Path(os.environ["AIRFLOW_HOME"]) / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def button(driver: webdriver.Chrome, text: str):
    return next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == text)


def test_connection_form_renders_saves_and_tests(
    api_server: str, browser: webdriver.Chrome, stripe_server: FakeStripe
):
    ARTIFACTS.mkdir(exist_ok=True)
    stripe_server.api_keys.add(KEY)
    stripe_server.seed(3)
    browser.get(f"{api_server}/connections")
    # Airflow 3.1's sign-in redirect lands on the home page: open the connections page again.
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: any(b.text == "Admin" for b in d.find_elements(By.TAG_NAME, "button"))
    )
    if not browser.current_url.endswith("/connections"):
        browser.get(f"{api_server}/connections")
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: any(b.text == "Add Connection" for b in d.find_elements(By.TAG_NAME, "button"))
    )
    button(browser, "Add Connection").click()
    browser.find_element(By.NAME, "connection_id").send_keys("stripe_browser")
    kind = browser.find_element(By.CSS_SELECTOR, "input[role=combobox]")
    kind.click()
    kind.send_keys("Stripe")
    WebDriverWait(browser, 10, ignored_exceptions=REDRAWN).until(
        lambda d: [o.text for o in d.find_elements(By.CSS_SELECTOR, "[role=option]")] == ["Stripe"]
    )
    kind.send_keys(Keys.ENTER)

    # Standard fields: relabelled, with placeholders; login, port and schema hidden.
    password = browser.find_element(By.NAME, "password")
    host = browser.find_element(By.NAME, "host")
    labels = {
        label.text.strip() for label in browser.find_elements(By.TAG_NAME, "label") if label.is_displayed()
    }
    assert {"Secret key", "API base URL"} <= labels
    assert password.get_attribute("type") == "password"
    assert "sk_live_" in password.get_attribute("placeholder") and "rk_live_" in password.get_attribute(
        "placeholder"
    )
    assert host.get_attribute("placeholder") == "https://api.stripe.com"
    for hidden in ("login", "port", "schema"):
        assert browser.find_elements(By.NAME, hidden) == []
    host.send_keys(stripe_server.url)
    password.send_keys(KEY)

    # Custom fields from conn-fields, with their defaults.
    button(browser, "Extra Fields").click()
    extra = {
        name: browser.find_element(By.NAME, f"element_{name}")
        for name in (
            "stripe_account",
            "stripe_version",
            "max_retries",
            "max_retry_wait",
            "timeout",
            "max_requests_per_second",
        )
    }
    labels = {
        label.text.strip() for label in browser.find_elements(By.TAG_NAME, "label") if label.is_displayed()
    }
    assert {
        "Connected account (Stripe-Account)",
        "API version (Stripe-Version)",
        "Max retries",
        "Max total retry wait (seconds)",
        "Timeout (seconds)",
        "Max requests per second",
    } <= labels
    assert (extra["max_retries"].get_attribute("value"), extra["timeout"].get_attribute("value")) == (
        "5",
        "80",
    )
    extra["stripe_version"].send_keys("2024-06-20")
    browser.save_screenshot(str(ARTIFACTS / "connection-form.png"))
    button(browser, "Save").click()

    row = WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: [
            r for r in d.find_elements(By.CSS_SELECTOR, "tr, [role=row]") if "stripe_browser" in r.text
        ]
    )[0]
    # Once the form has closed, the page holds no trace of the key.
    browser.implicitly_wait(0)
    WebDriverWait(browser, 10, ignored_exceptions=REDRAWN).until(
        lambda d: not d.find_elements(By.NAME, "password")
    )
    browser.implicitly_wait(10)
    assert KEY not in browser.page_source
    browser.get_log("performance")  # drop what came before the Test click
    row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()

    def test_response(driver):
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.responseReceived" and message["params"]["response"][
                "url"
            ].endswith("/api/v2/connections/test"):
                return message["params"]
        return None

    response = WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(test_response)
    assert response["response"]["status"] == 200
    body = json.loads(
        browser.execute_cdp_cmd("Network.getResponseBody", {"requestId": response["requestId"]})["body"]
    )
    assert body["status"] is True
    assert body["message"].startswith("Connected to Stripe in test mode")
    tested = [r for r in stripe_server.requests if r["path"] == "/v1/customers"]
    assert tested and tested[-1]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert tested[-1]["headers"]["Stripe-Version"] == "2024-06-20"
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "connection-tested.png"))
    assert KEY not in browser.page_source

    # Editing shows the key masked, never the key itself.
    row.find_element(By.CSS_SELECTOR, "button[aria-label='Edit Connection']").click()
    WebDriverWait(browser, 10, ignored_exceptions=REDRAWN).until(
        lambda d: d.find_elements(By.NAME, "password")
    )
    assert browser.find_element(By.NAME, "password").get_attribute("value") != KEY
    assert KEY not in browser.page_source
