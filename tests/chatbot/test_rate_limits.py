"""Client limits in requests and tokens, service-wide and daily budgets, the concurrency cap."""

from __future__ import annotations

import asyncio
import logging

import httpx

from chatbot.fake_bedrock import FakeBedrockConfig
from chatbot.models import MAX_MESSAGE_CHARS, MAX_PAGE_TEXT_CHARS, MAX_TITLE_CHARS
from chatbot.rate_limits import async_storage_uri


def largest_body(api, session_id: str) -> dict:
    """A question as large as the API admits: what a flood of expensive requests sends."""
    return api.chat_body(
        "Why? " * (MAX_MESSAGE_CHARS // 5),
        session_id=session_id,
        url="https://www.example.com/" + "p" * 1500,
        title="T" * MAX_TITLE_CHARS,
        text="Long page line about fees.\n" * (MAX_PAGE_TEXT_CHARS // 28),
    )


def test_session_over_its_limit_gets_429_with_retry_after(fake, start, api):
    service = start(session_rate_limit="2/minute")
    statuses = [
        api.post_chat(service, api.chat_body(session_id="session-aaaa")).status_code
        for _ in range(2)
    ]
    refused = api.post_chat(service, api.chat_body(session_id="session-aaaa"))
    assert statuses == [200, 200]
    body = api.assert_error_shape(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "wait" in body["message"]
    assert api.post_chat(service, api.chat_body(session_id="session-bbbb")).status_code == 200
    assert fake.stats.calls["Converse"] == 3  # the refused question never reached the model


def test_ip_limit_applies_across_sessions(fake, start, api):
    service = start(ip_rate_limit="3/minute")
    statuses = [
        api.post_chat(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(fake, start, api):
    service = start(ip_rate_limit="2/minute")
    statuses = [
        api.post_chat(
            service,
            api.chat_body(session_id=f"session-{index:04d}"),
            headers={"X-Forwarded-For": f"203.0.113.{index}"},
        ).status_code
        for index in range(3)
    ]
    assert statuses == [200, 200, 429]  # spoofed addresses do not buy a fresh limit


def test_forwarded_for_from_a_trusted_proxy_identifies_the_client(fake, start, api):
    service = start(ip_rate_limit="2/minute", trusted_proxy_hops=1)
    statuses = [
        api.post_chat(
            service,
            api.chat_body(session_id=f"session-{index:04d}"),
            headers={"X-Forwarded-For": f"198.51.100.7, 203.0.113.{index}"},
        ).status_code
        for index in range(3)
    ]
    assert statuses == [200, 200, 200]


def test_token_flood_from_several_ips_leaves_ordinary_visitors_answered(fake, start, api):
    # Four addresses each send eight of the largest questions: 32 x ~3,300 tokens, more than
    # the service-wide 60,000 a minute. Each address may spend 10,000 (three such questions),
    # so the flood is cut per address and the global budget keeps room for everyone else.
    service = start(
        trusted_proxy_hops=1, global_tokens_per_minute=60_000, ip_token_rate_limit="10000/minute"
    )
    flood = []
    for address in range(4):
        forwarded = {"X-Forwarded-For": f"203.0.113.{address}"}
        for _ in range(8):
            body = largest_body(api, f"session-flood-{address}")
            flood.append(api.post_chat(service, body, headers=forwarded))
    refused = [response for response in flood if response.status_code == 429]
    assert len(refused) == 4 * 5
    assert {response.json()["error"] for response in refused} == {"rate_limited"}
    visitor = api.post_chat(
        service, api.chat_body(session_id="session-visitor"), headers={"X-Forwarded-For": "1.2.3.4"}
    )
    assert visitor.status_code == 200
    assert fake.stats.calls["Converse"] == 4 * 3 + 1
    registry = service.app.state.metrics.registry
    assert registry.get_sample_value("chatbot_throttles_total", {"source": "ip_tokens"}) == 20


def test_session_token_limit_counts_the_size_of_questions(fake, start, api):
    service = start(session_token_rate_limit="7000/minute")  # two of the largest questions
    statuses = [
        api.post_chat(service, largest_body(api, "session-big")).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    small = [
        api.post_chat(service, api.chat_body(f"Small {i}?", session_id="session-small"))
        for i in range(4)
    ]
    assert [response.status_code for response in small] == [200] * 4


def test_global_request_budget_gives_429_service_busy(fake, start, api):
    service = start(global_requests_per_minute=2)
    statuses = [
        api.post_chat(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(2)
    ]
    refused = api.post_chat(service, api.chat_body(session_id="session-9999"))
    assert statuses == [200, 200]
    api.assert_error_shape(refused, 429, "service_busy")
    assert int(refused.headers["retry-after"]) >= 1


def test_global_token_budget_reserves_max_tokens_per_call(fake, start, api):
    # Each call reserves its prompt estimate plus max_tokens (about 500 + 400 here).
    service = start(
        global_tokens_per_minute=2000,
        max_tokens=400,
        page_token_budget=100,
        daily_token_budget=100_000,
    )
    statuses = [
        api.post_chat(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(4)
    ]
    assert statuses[0] == 200
    assert statuses[-1] == 429
    assert fake.stats.calls["Converse"] == statuses.count(200)


def test_daily_budget_refuses_with_503_and_warns_once_at_the_fraction(fake, start, api, caplog):
    caplog.set_level(logging.WARNING, logger="chatbot.budget")
    service = start(page_token_budget=100, daily_token_budget=2_000, budget_warning_fraction=0.3)
    responses = [
        api.post_chat(service, api.chat_body(f"Question number {index}?")) for index in range(12)
    ]
    statuses = [response.status_code for response in responses]
    assert 200 in statuses and 503 in statuses
    first_refusal = statuses.index(503)
    assert set(statuses[first_refusal:]) == {503}  # spent stays spent for the rest of the day
    refused = responses[first_refusal]
    api.assert_error_shape(refused, 503, "budget_exhausted")
    assert 1 <= int(refused.headers["retry-after"]) <= 86_400
    assert fake.stats.calls["Converse"] == first_refusal
    warnings = [r for r in caplog.records if r.getMessage() == "daily_budget_warning"]
    assert len(warnings) == 1 and warnings[0].fields["limit_tokens"] == 2_000
    registry = service.app.state.metrics.registry
    assert registry.get_sample_value("chatbot_daily_budget_tokens_used") >= 2_000
    assert registry.get_sample_value("chatbot_throttles_total", {"source": "daily_budget"}) >= 1


def test_cached_answers_are_still_served_when_the_daily_budget_is_spent(fake, start, api):
    service = start(page_token_budget=100, daily_token_budget=2_000, cache_enabled=True)
    remembered = api.chat_body("What does the premium card cost?")
    assert api.post_chat(service, remembered).status_code == 200
    for index in range(12):
        api.post_chat(service, api.chat_body(f"Spend question {index}?"))
    assert api.post_chat(service, api.chat_body("A new question?")).status_code == 503
    calls = fake.stats.total_calls
    assert api.post_chat(service, remembered).status_code == 200
    assert fake.stats.total_calls == calls


def test_concurrency_cap_refuses_beyond_the_pool_instead_of_queueing(fake, start, api):
    fake.set_config(FakeBedrockConfig(latency_ms_median=600))
    service = start(max_concurrent_upstream=1, admission_wait_seconds=0.0)
    sessions = [f"session-{i:04d}" for i in range(4)]
    headers = {session: api.auth_headers(service, session) for session in sessions}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/chat",
                        json=api.chat_body(session_id=session),
                        headers=headers[session],
                    )
                    for session in sessions
                )
            )

    responses = asyncio.run(burst())
    codes = sorted(response.status_code for response in responses)
    assert 200 in codes and 429 in codes
    busy = next(response for response in responses if response.status_code == 429)
    api.assert_error_shape(busy, 429, "service_busy")
    assert fake.stats.calls["Converse"] == codes.count(200)


def test_storage_uri_is_given_the_async_scheme_limits_expects():
    assert async_storage_uri("memory://") == "async+memory://"
    assert async_storage_uri("redis://cache:6379/0") == "async+redis://cache:6379/0"
    assert async_storage_uri("async+redis://cache:6379") == "async+redis://cache:6379"
