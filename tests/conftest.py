"""Shared fixtures: the real dataset, an isolated Prefect API and a real MLflow sqlite store."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Isolate Prefect before anything imports it: tests never touch the user's ~/.prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="ccseg-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MPLBACKEND", "Agg")


def _real_data_path() -> Path:
    from core.settings import DEFAULT_DATA_PATH, PipelineSettings

    path = PipelineSettings().data_path or DEFAULT_DATA_PATH
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """The real CC GENERAL file; absent -> skip with the reason, but in CI it must exist."""
    path = _real_data_path()
    if not path.is_file():
        message = f"real dataset not found at {path} (set CCSEG_DATA_PATH to its location)"
        if _in_ci():
            pytest.fail(f"CI must exercise the real data: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One real (temporary, sqlite-backed) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MLflow sqlite store and artifact folder under tmp_path, used as the work dir."""
    monkeypatch.setenv("CCSEG_WORK_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_WIDTH = 1280
BROWSER_PAGE_LOAD_TIMEOUT_SECONDS = 30


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Real headless Chromium (Debian `chromium` + `chromium-driver`, installed by `make test`)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"headless browser tests need {' and '.join(missing)} (run `make browser`)"
        if _in_ci():
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="ccseg-chromium-") as profile:
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={BROWSER_WIDTH},1000",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(BROWSER_PAGE_LOAD_TIMEOUT_SECONDS)
        try:
            yield driver
        finally:
            driver.quit()
