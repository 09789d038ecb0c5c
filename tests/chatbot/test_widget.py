"""The popup widget in real headless Chromium: token flow, streamed answer as text, page privacy."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatbot.widget_assets import VERSIONED_PREFIX, WIDGET_DIR, subresource_integrity

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRET_QUERY = "account=12345678&reset_token=s3cr3t-t0ken"
SITE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Account overview</title>
<link rel="icon" href="data:,"></head>
<body>
  <main>
    <h1>Account overview</h1>
    <p>Cash advances cost 3% of the amount.</p>
    <p>Customer: <span class="pii">Jane Example, IBAN DE89 3704 0044 0532 0130 00</span>.</p>
    <div data-chat-private><p>Card ending 4242, limit 5,000 EUR.</p></div>
  </main>
  <script src="{script_url}" integrity="{integrity}" crossorigin="anonymous"
          data-private-selector=".pii" {extra} defer></script>
</body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def customer_site(tmp_path: Path) -> Iterator[str]:
    """Another origin on 127.0.0.1 that embeds the widget, as a customer's website does."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_site_page(
    directory: Path, service_url: str, extra: str = "", integrity: str | None = None
) -> None:
    script = (WIDGET_DIR / "chat-widget.js").read_bytes()
    (directory / "account.html").write_text(
        SITE_PAGE.format(
            script_url=f"{service_url}{VERSIONED_PREFIX}/chat-widget.js",
            integrity=integrity or subresource_integrity(script),
            extra=extra,
        )
    )


def ask_through_widget(browser, question: str, title: str | None = None, expect_answers: int = 1):
    """Open the widget (if closed), ask, and return the latest finished answer bubble."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15)
    host = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-ccseg-chat]"))
    root = host.shadow_root
    if title is not None:
        browser.execute_script("document.title = arguments[0]", title)
    launcher = root.find_element(By.CSS_SELECTOR, "[data-testid=chat-launcher]")
    if launcher.get_attribute("aria-expanded") != "true":
        launcher.click()
    root.find_element(By.CSS_SELECTOR, "[data-testid=chat-input]").send_keys(question)
    send = root.find_element(By.CSS_SELECTOR, "[data-testid=chat-send]")
    wait.until(lambda _: send.is_enabled())
    send.click()

    def finished():
        answers = root.find_elements(By.CSS_SELECTOR, "[data-testid=chat-answer]")
        done = [element for element in answers if "done" in element.get_attribute("class")]
        return done[-1] if len(done) >= expect_answers else None

    return wait.until(lambda _: finished())


def sent_user_text(fake) -> str:
    sent = fake.stats.last_request
    assert sent.operation == "ConverseStream"
    return sent.body["messages"][0]["content"][0]["text"]


def severe_browser_errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_widget_asks_about_the_page_and_renders_the_streamed_answer_as_text(fake, service, browser):
    from selenium.webdriver.common.by import By

    tokens_before = issued_tokens(service)
    browser.get(f"{service.base_url}/widget/demo.html?{SECRET_QUERY}#fees")
    # The fake echoes the page title unescaped, so markup in it comes back in the model's answer.
    title = 'Card fees <img src=x onerror="window.pwned=1"> & more'
    question = "Is there an annual fee?"
    answer = ask_through_widget(browser, question, title)

    url = f"{service.base_url}/widget/demo.html"  # no query string, no fragment
    assert answer.text == f"[fake-bedrock] You asked: '{question}' about page '{title}' ({url})."
    # Markup in the answer stays text: no element was created from it, no handler ran.
    assert answer.find_elements(By.CSS_SELECTOR, "img") == []
    assert browser.execute_script("return window.pwned === undefined") is True

    user_text = sent_user_text(fake)
    assert "The premium card costs 90 EUR a year" in user_text  # the page's visible text
    assert "Ask about this page" not in user_text  # but not the widget's own text
    assert "s3cr3t" not in user_text and "12345678" not in user_text  # nor the query string
    assert "Jane Example" not in user_text and "4242" not in user_text  # nor the private box
    assert issued_tokens(service) == tokens_before + 1  # the answer came through a token

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "chat-widget.png"))
    assert severe_browser_errors(browser) == []


def issued_tokens(service) -> float:
    value = service.app.state.metrics.registry.get_sample_value(
        "chatbot_session_tokens_issued_total"
    )
    return value or 0.0


@pytest.fixture
def site_and_service(
    fake, start, customer_site: str, tmp_path: Path
) -> Callable[..., tuple[str, object]]:
    """A customer site embedding the pinned widget, and a service that allows that site."""

    def build(extra: str = "", integrity: str | None = None) -> tuple[str, object]:
        service = start(cors_allow_origins=[customer_site])
        write_site_page(tmp_path, service.base_url, extra, integrity)
        return f"{customer_site}/account.html", service

    return build


def test_widget_on_another_site_sends_neither_query_nor_private_elements(
    fake, site_and_service, browser
):
    page, _ = site_and_service()
    browser.get(f"{page}?{SECRET_QUERY}")
    answer = ask_through_widget(browser, "What do cash advances cost?")

    assert answer.text.endswith(f"({page}).")
    user_text = sent_user_text(fake)
    assert "Cash advances cost 3% of the amount." in user_text
    assert "s3cr3t" not in user_text and "12345678" not in user_text
    assert "IBAN" not in user_text and "Jane Example" not in user_text  # the site's .pii
    assert "4242" not in user_text  # [data-chat-private]
    assert severe_browser_errors(browser) == []


def test_widget_keeps_the_query_string_only_when_the_site_asks(fake, site_and_service, browser):
    page, _ = site_and_service(extra='data-keep-query="true"')
    browser.get(f"{page}?product=premium")
    answer = ask_through_widget(browser, "Which product is this?")
    assert answer.text.endswith(f"({page}?product=premium).")


def test_a_widget_that_does_not_match_its_sri_hash_never_runs(fake, site_and_service, browser):
    from selenium.webdriver.common.by import By

    page, _ = site_and_service(integrity=subresource_integrity(b"some other script"))
    browser.get(page)
    browser.find_element(By.TAG_NAME, "main")  # the page itself loaded
    assert browser.execute_script("return document.querySelector('[data-ccseg-chat]')") is None
    assert fake.stats.total_calls == 0


def test_widget_renews_a_token_the_service_no_longer_accepts(fake, start, browser):
    import secrets

    from chatbot.session_tokens import SessionTokens

    service = start()
    browser.get(f"{service.base_url}/widget/demo.html")
    first = ask_through_widget(browser, "First question?")
    assert first.text.startswith("[fake-bedrock]")
    # The service's key rotates without a previous key (a redeploy): the widget's token dies.
    settings = service.settings
    service.app.state.tokens = SessionTokens(
        secrets.token_urlsafe(32), None, settings.token_ttl_seconds
    )
    tokens_before = issued_tokens(service)
    second = ask_through_widget(browser, "Second question?", expect_answers=2)
    assert second.text.startswith("[fake-bedrock] You asked: 'Second question?'")
    assert issued_tokens(service) == tokens_before + 1  # one renewal, then the answer
    assert fake.stats.calls == {"ConverseStream": 2}
