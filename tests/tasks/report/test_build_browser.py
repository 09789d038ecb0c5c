"""The report opens in real headless Chromium, offline: no console error, every image decoded."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from tasks.data.ingest import read_and_validate
from tasks.data.synthetic import write_synthetic
from tasks.report.build import Report, build_report, write_report
from tasks.report.demo import demo_inputs

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LOAD_TIMEOUT_SECONDS = 30
# Chromium refuses screenshots taller than its texture limit; the report fits well below it.
MAX_SCREENSHOT_HEIGHT = 30_000


@pytest.fixture(scope="module")
def report_and_file(tmp_path_factory) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("browser-report")
    result = read_and_validate(write_synthetic(2000, 5, folder / "cc.csv"))
    validation = result.summary.to_dict()
    report = build_report(demo_inputs(result.clean, validation, is_synthetic=True))
    return report, write_report(report, folder / "reports")


def _open(driver, path: Path) -> None:
    driver.get(path.as_uri())
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    while driver.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, "the report did not finish loading"
        time.sleep(0.1)


def _save_full_page(driver, target: Path) -> None:
    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": int(width),
                "height": min(int(height), MAX_SCREENSHOT_HEIGHT),
                "scale": 1,
            },
        },
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(base64.b64decode(shot["data"]))


def test_report_opens_without_console_errors_and_every_image_loads(browser, report_and_file):
    report, path = report_and_file
    _open(browser, path)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    assert len(images) == len(report.figures)
    not_loaded = [alt for complete, width, alt in images if not complete or width <= 0]
    assert not_loaded == []
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    _save_full_page(browser, ARTIFACTS / "report.png")
    assert (ARTIFACTS / "report.png").stat().st_size > 0


def test_report_requests_nothing_over_the_network(browser, report_and_file):
    _, path = report_and_file
    _open(browser, path)
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [url for url in fetched if not url.startswith(("data:", "file:"))] == []


def test_synthetic_banner_is_the_first_thing_a_reader_sees(browser, report_and_file):
    _, path = report_and_file
    _open(browser, path)
    banner = browser.find_element("id", "synthetic-banner")
    assert banner.is_displayed()
    assert banner.location["y"] == 0
    assert "SYNTHETIC DATA" in banner.text
