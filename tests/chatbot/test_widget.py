"""The popup widget in real headless Chromium: it asks the live service and renders the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_widget_asks_about_the_page_and_renders_the_streamed_answer_as_text(fake, service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{service.base_url}/widget/demo.html")
    wait = WebDriverWait(browser, 15)
    host = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-ccseg-chat]"))
    root = host.shadow_root
    # The fake echoes the page title unescaped, so markup in it comes back in the model's answer.
    title = 'Card fees <img src=x onerror="window.pwned=1"> & more'
    browser.execute_script("document.title = arguments[0]", title)
    root.find_element(By.CSS_SELECTOR, "[data-testid=chat-launcher]").click()
    question = "Is there an annual fee?"
    root.find_element(By.CSS_SELECTOR, "[data-testid=chat-input]").send_keys(question)
    root.find_element(By.CSS_SELECTOR, "[data-testid=chat-send]").click()

    answer = wait.until(
        lambda _: next(
            (
                element
                for element in root.find_elements(By.CSS_SELECTOR, "[data-testid=chat-answer]")
                if "done" in element.get_attribute("class")
            ),
            None,
        )
    )
    url = f"{service.base_url}/widget/demo.html"
    assert answer.text == f"[fake-bedrock] You asked: '{question}' about page '{title}' ({url})."
    # Markup in the answer stays text: no element was created from it, no handler ran.
    assert answer.find_elements(By.CSS_SELECTOR, "img") == []
    assert browser.execute_script("return window.pwned === undefined") is True

    sent = fake.stats.last_request
    assert sent.operation == "ConverseStream"
    user_text = sent.body["messages"][0]["content"][0]["text"]
    assert "The premium card costs 90 EUR a year" in user_text  # the page's visible text
    assert "Ask about this page" not in user_text  # but not the widget's own text

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "chat-widget.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
