"""The report in real headless Chromium, offline: no console error, every image decoded, and the
executive summary prints to exactly one page (Chromium's own print to PDF, pages counted)."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from selenium.webdriver.common.print_page_options import PrintOptions

from tasks.report.build import Report, write_report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LOAD_TIMEOUT_SECONDS = 30
# Chromium refuses screenshots taller than its texture limit; the report fits well below it.
MAX_SCREENSHOT_HEIGHT = 30_000


# A4 and US Letter, in centimetres: the one-pager must fit either.
PAPER_SIZES = {"A4": (21.0, 29.7), "Letter": (21.59, 27.94)}


@pytest.fixture(scope="module")
def report_and_file(synthetic_report, tmp_path_factory) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("browser-report")
    return synthetic_report, write_report(synthetic_report, folder / "reports")


@pytest.fixture(scope="module")
def real_report_file(real_report, tmp_path_factory) -> Path:
    return write_report(real_report, tmp_path_factory.mktemp("browser-real") / "reports")


def _pdf(driver, paper: str) -> PdfReader:
    options = PrintOptions()
    options.page_width, options.page_height = PAPER_SIZES[paper]
    options.background = True
    return PdfReader(io.BytesIO(base64.b64decode(driver.print_page(options))))


def _keep_only_the_executive_page(driver) -> None:
    """Leave the banner, the header and the summary section: what the one-pager prints."""
    driver.execute_script(
        "document.querySelectorAll('main > section:not(#summary), nav, footer')"
        ".forEach(e => e.remove())"
    )


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


@pytest.mark.parametrize("paper", sorted(PAPER_SIZES))
def test_executive_summary_prints_to_one_page(browser, report_and_file, paper):
    report, path = report_and_file
    _open(browser, path)
    _keep_only_the_executive_page(browser)
    pdf = _pdf(browser, paper)
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    last_decision = report.context["decisions"][-1]
    assert last_decision.title.split()[-1] in text  # the page is not cut before its end


@pytest.mark.realdata
def test_real_executive_summary_prints_to_one_page_and_the_report_breaks_after_it(
    browser, real_report, real_report_file
):
    _open(browser, real_report_file)
    whole = _pdf(browser, "A4")
    first, second = whole.pages[0].extract_text(), whole.pages[1].extract_text()
    assert "Three decisions this report asks for" in first
    assert "Data and quality" in second and "Three decisions" not in second
    _keep_only_the_executive_page(browser)
    assert len(_pdf(browser, "A4").pages) == 1
