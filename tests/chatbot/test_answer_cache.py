"""The response cache: same question, same page content, same settings: no second model call."""

from __future__ import annotations

import httpx
import pytest

from chatbot.answer_cache import answer_cache_key, normalise_question, page_address
from chatbot.models import ChatRequest
from chatbot.settings import ChatbotSettings


def cache_lookups(service, result: str) -> float:
    registry = service.app.state.metrics.registry
    value = registry.get_sample_value("chatbot_answer_cache_lookups_total", {"result": result})
    return value or 0.0


def test_an_identical_question_is_answered_from_the_cache(fake, start, api):
    service = start(cache_enabled=True)
    first = api.post_chat(service, api.chat_body("What does the premium card cost?"))
    # The same question as another visitor types it: case, spacing and Unicode forms differ.
    again = api.post_chat(
        service, api.chat_body("  what DOES the premium\u00a0card cost?", session_id="session-2")
    )
    assert first.status_code == again.status_code == 200
    assert again.json()["answer"] == first.json()["answer"]
    assert fake.stats.calls == {"Converse": 1}
    assert cache_lookups(service, "hit") == 1 and cache_lookups(service, "miss") == 1
    assert again.headers["server-timing"] == 'cache;desc="hit"'


@pytest.mark.parametrize(
    "other_page",
    [
        {"url": "https://www.example.com/cards/other-fees"},  # another page
        {"url": "https://shop.example.com/cards/fees"},  # the same path on another site
        {"text": "The premium card costs 120 EUR a year."},  # the page changed
        {"title": "Premium card fees"},
    ],
)
def test_a_cached_answer_never_crosses_pages(fake, start, api, other_page):
    service = start(cache_enabled=True)
    assert api.post_chat(service, api.chat_body()).status_code == 200
    other = api.post_chat(service, api.chat_body(**other_page))
    assert other.status_code == 200
    assert fake.stats.calls == {"Converse": 2}
    assert cache_lookups(service, "hit") == 0


def test_the_query_string_and_fragment_do_not_split_the_cache(fake, start, api):
    service = start(cache_enabled=True)
    api.post_chat(service, api.chat_body(url="https://www.example.com/cards/fees?utm_source=x"))
    api.post_chat(service, api.chat_body(url="https://WWW.example.com/cards/fees#annual"))
    assert fake.stats.calls == {"Converse": 1}


def test_a_streamed_answer_is_cached_and_a_cache_hit_streams(fake, start, api):
    service = start(cache_enabled=True)
    streamed = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    text = "".join(d["text"] for kind, d in api.sse_events(streamed.text) if kind == "delta")
    again = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    events = api.sse_events(again.text)
    assert [kind for kind, _ in events] == ["delta", "done"]
    assert events[0][1]["text"] == text
    assert api.post_chat(service, api.chat_body()).json()["answer"] == text
    assert fake.stats.calls == {"ConverseStream": 1}


def test_caching_can_be_turned_off(fake, start, api):
    service = start(cache_enabled=False)
    for _ in range(2):
        assert api.post_chat(service, api.chat_body()).status_code == 200
    assert fake.stats.calls == {"Converse": 2}


def test_failed_answers_are_not_cached(fake, start, api):
    from chatbot.fake_bedrock import Fault

    service = start(cache_enabled=True, max_attempts=1)
    fake.set_faults(Fault("validation"))
    assert api.post_chat(service, api.chat_body()).status_code == 502
    assert api.post_chat(service, api.chat_body()).status_code == 200
    assert fake.stats.calls == {"Converse": 2}


def test_the_key_changes_with_every_model_setting():
    request = ChatRequest.model_validate(
        {
            "message": "What does it cost?",
            "page": {"url": "https://a.example/p", "title": "T", "text": "90 EUR"},
            "session_id": "session-0001",
        }
    )
    base = ChatbotSettings()
    key = answer_cache_key(request, "90 EUR", base)
    for change in [
        {"model_id": "anthropic.claude-3-haiku-20240307-v1:0"},
        {"fallback_model_id": "anthropic.claude-3-haiku-20240307-v1:0"},
        {"max_tokens": 200},
        {"temperature": 0.5},
        {"site_name": "Another bank"},
        {"guardrail_id": "abc123", "guardrail_version": "1"},
    ]:
        assert answer_cache_key(request, "90 EUR", ChatbotSettings(**change)) != key, change
    assert answer_cache_key(request, "90 EUR (trimmed differently)", base) != key


def test_question_and_address_normalisation():
    assert normalise_question(" What\tDOES  it\u00a0cost? ") == "what does it cost?"
    assert page_address("HTTPS://Www.Example.com/a/b?x=1#y") == "https://www.example.com/a/b"
    assert page_address("https://example.com") == "https://example.com/"


def test_instances_sharing_redis_share_answers(fake, start, api, redis_url):
    first = start(cache_enabled=True, redis_url=redis_url)
    second = start(cache_enabled=True, redis_url=redis_url)
    body = api.chat_body("Asked on one instance, answered by the other?")
    answer = api.post_chat(first, body).json()["answer"]
    assert api.post_chat(second, body).json()["answer"] == answer
    assert fake.stats.calls == {"Converse": 1}
    assert cache_lookups(second, "hit") == 1
    assert httpx.get(f"{second.base_url}/readyz").json()["checks"]["answer_cache"] == "ok"


def test_an_unreachable_redis_is_a_miss_not_an_error(fake, start, api):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    service = start(cache_enabled=True, redis_url=f"redis://127.0.0.1:{port}/0")
    for _ in range(2):
        assert api.post_chat(service, api.chat_body()).status_code == 200
    assert fake.stats.calls == {"Converse": 2}
    assert cache_lookups(service, "error") == 2
    ready = httpx.get(f"{service.base_url}/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["answer_cache"] == "unreachable"
