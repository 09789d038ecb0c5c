"""Per-client limits (IP and session), service-wide budgets and the concurrency cap, over HTTP."""

from __future__ import annotations

import asyncio

import httpx

from chatbot.fake_bedrock import FakeBedrockConfig
from chatbot.rate_limits import async_storage_uri


def post(service, body, headers=None) -> httpx.Response:
    return httpx.post(f"{service.base_url}/api/chat", json=body, headers=headers or {})


def test_session_over_its_limit_gets_429_with_retry_after(fake, start, api):
    service = start(session_rate_limit="2/minute")
    statuses = [
        post(service, api.chat_body(session_id="session-aaaa")).status_code for _ in range(2)
    ]
    refused = post(service, api.chat_body(session_id="session-aaaa"))
    assert statuses == [200, 200]
    body = api.assert_error_shape(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "wait" in body["message"]
    assert post(service, api.chat_body(session_id="session-bbbb")).status_code == 200
    assert fake.stats.calls["Converse"] == 3  # the refused question never reached the model


def test_ip_limit_applies_across_sessions(fake, start, api):
    service = start(ip_rate_limit="3/minute")
    statuses = [
        post(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(fake, start, api):
    service = start(ip_rate_limit="2/minute")
    statuses = [
        post(
            service,
            api.chat_body(session_id=f"session-{index:04d}"),
            {"X-Forwarded-For": f"203.0.113.{index}"},
        ).status_code
        for index in range(3)
    ]
    assert statuses == [200, 200, 429]  # spoofed addresses do not buy a fresh limit


def test_forwarded_for_from_a_trusted_proxy_identifies_the_client(fake, start, api):
    service = start(ip_rate_limit="2/minute", trusted_proxy_hops=1)
    statuses = [
        post(
            service,
            api.chat_body(session_id=f"session-{index:04d}"),
            {"X-Forwarded-For": f"198.51.100.7, 203.0.113.{index}"},
        ).status_code
        for index in range(3)
    ]
    assert statuses == [200, 200, 200]


def test_global_request_budget_gives_429_service_busy(fake, start, api):
    service = start(global_requests_per_minute=2)
    statuses = [
        post(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(2)
    ]
    refused = post(service, api.chat_body(session_id="session-9999"))
    assert statuses == [200, 200]
    api.assert_error_shape(refused, 429, "service_busy")
    assert int(refused.headers["retry-after"]) >= 1


def test_global_token_budget_reserves_max_tokens_per_call(fake, start, api):
    # Each call reserves its prompt estimate plus max_tokens (about 500 + 400 here).
    service = start(global_tokens_per_minute=2000, max_tokens=400, page_token_budget=100)
    statuses = [
        post(service, api.chat_body(session_id=f"session-{index:04d}")).status_code
        for index in range(4)
    ]
    assert statuses[0] == 200
    assert statuses[-1] == 429
    assert fake.stats.calls["Converse"] == statuses.count(200)


def test_concurrency_cap_refuses_beyond_the_pool_instead_of_queueing(fake, start, api):
    fake.set_config(FakeBedrockConfig(latency_ms_median=600))
    service = start(max_concurrent_upstream=1, admission_wait_seconds=0.0)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            return await asyncio.gather(
                *(
                    http.post("/api/chat", json=api.chat_body(session_id=f"session-{i:04d}"))
                    for i in range(4)
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
