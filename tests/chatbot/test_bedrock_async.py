"""The event-loop sender gives what boto3 gives: same request, same answer, same exceptions."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from botocore.eventstream import ChecksumMismatch
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    EventStreamError,
    HTTPClientError,
    ReadTimeoutError,
)

from chatbot.bedrock import make_boto3_client
from chatbot.bedrock_async import AsyncBedrockSender, botocore_error
from chatbot.errors import ServiceBusy
from chatbot.fake_bedrock import Fault
from chatbot.observability import ChatMetrics
from chatbot.settings import ChatbotSettings
from chatbot.upstream_pool import Deadline, UpstreamPool

T = TypeVar("T")
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PARAMS: dict[str, Any] = {
    "modelId": MODEL_ID,
    "system": [{"text": "Answer about the page."}],
    "messages": [{"role": "user", "content": [{"text": "Is there an annual fee?"}]}],
    "inferenceConfig": {"maxTokens": 50, "temperature": 0.2},
}


def with_sender(
    settings: ChatbotSettings, use: Callable[[AsyncBedrockSender], Awaitable[T]]
) -> tuple[T, Any]:
    """Run `use` with a sender (and the boto3 client behind it) on a fresh event loop."""
    client = make_boto3_client(settings)

    async def run() -> T:
        sender = AsyncBedrockSender(client, settings)
        try:
            return await use(sender)
        finally:
            await sender.close()

    return asyncio.run(run()), client


def without_volatile(response: dict[str, Any]) -> dict[str, Any]:
    """The parsed answer less what differs between two calls (ids, dates, retry bookkeeping)."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_converse_answer_is_what_boto3_parses_from_the_same_fake(fake):
    async def call(sender: AsyncBedrockSender) -> dict[str, Any]:
        return await sender.call("Converse", PARAMS)

    ours, client = with_sender(ChatbotSettings(), call)
    theirs = client.converse(**PARAMS)

    assert without_volatile(ours) == without_volatile(theirs)
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ours["ResponseMetadata"]["RequestId"]
    assert fake.stats.calls == {"Converse": 2}
    first, second = fake.stats.requests
    assert first.body == second.body  # the same serialized request, byte for byte in JSON


def test_request_is_signed_with_the_default_chain_credentials_for_the_region(fake, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "chain-key-id-for-this-test")

    async def call(sender: AsyncBedrockSender) -> Any:
        request, _, _ = sender.prepare("Converse", PARAMS)
        await sender.call("Converse", PARAMS)
        return request

    request, _ = with_sender(ChatbotSettings(aws_region="eu-west-1"), call)

    authorization = request.headers["Authorization"].decode()
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=chain-key-id-for-this-test/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    assert fake.stats.last_request.region == "eu-west-1"
    assert fake.stats.last_request.outcome == "ok"


@pytest.mark.parametrize(
    "kind", ["throttling", "validation", "access_denied", "internal", "model_timeout"]
)
def test_error_answers_raise_the_same_botocore_exception_as_boto3(fake, kind):
    fake.set_faults(Fault(kind, times=2))

    async def call(sender: AsyncBedrockSender) -> BaseException:
        with pytest.raises(ClientError) as raised:
            await sender.call("Converse", PARAMS)
        return raised.value

    ours, client = with_sender(ChatbotSettings(), call)
    with pytest.raises(ClientError) as theirs:
        client.converse(**PARAMS)

    assert type(ours) is type(theirs.value)
    assert ours.response["Error"] == theirs.value.response["Error"]
    status = ours.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == theirs.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert ours.response["ResponseMetadata"]["RequestId"]  # Bedrock's id, for the logs


def test_unreachable_endpoint_raises_endpoint_connection_error(fake, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")

    async def call(sender: AsyncBedrockSender) -> None:
        await sender.call("Converse", PARAMS)

    with pytest.raises(EndpointConnectionError):
        with_sender(ChatbotSettings(), call)


def test_a_silent_model_raises_read_timeout_error_after_the_read_timeout(fake):
    fake.set_faults(Fault("stall", delay_seconds=2.0))

    async def call(sender: AsyncBedrockSender) -> None:
        await sender.call("Converse", PARAMS)

    with pytest.raises(ReadTimeoutError):
        with_sender(ChatbotSettings(read_timeout_seconds=0.3, deadline_seconds=5), call)


def test_a_body_that_is_not_json_is_parsed_as_boto3_parses_it(fake):
    fake.set_faults(Fault("malformed", times=2))

    async def call(sender: AsyncBedrockSender) -> dict[str, Any]:
        return await sender.call("Converse", PARAMS)

    ours, client = with_sender(ChatbotSettings(), call)
    theirs = client.converse(**PARAMS)

    assert "output" not in ours
    assert without_volatile(ours) == without_volatile(theirs)


async def _stream_events(sender: AsyncBedrockSender) -> tuple[dict[str, Any], list[Any]]:
    async with sender.event_stream("ConverseStream", PARAMS) as (response, events):
        return response, [event async for event in events]


def test_stream_events_are_those_boto3_yields_in_the_same_order(fake):
    (response, ours), client = with_sender(ChatbotSettings(), _stream_events)
    theirs = list(client.converse_stream(**PARAMS)["stream"])

    assert response["ResponseMetadata"]["RequestId"]
    assert [next(iter(event)) for event in ours][:2] == ["messageStart", "contentBlockDelta"]
    assert ours[:-1] == theirs[:-1]  # the last, `metadata`, carries the fake's measured latency
    assert ours[-1]["metadata"]["usage"] == theirs[-1]["metadata"]["usage"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault("throttling", mid_stream=True, times=2), EventStreamError),
        (Fault("malformed", times=2), ChecksumMismatch),
    ],
)
def test_a_broken_stream_raises_what_iterating_boto3s_stream_raises(fake, fault, expected):
    fake.set_faults(fault)

    with pytest.raises(expected) as ours:
        with_sender(ChatbotSettings(), _stream_events)
    client = make_boto3_client(ChatbotSettings())
    with pytest.raises(expected) as theirs:
        list(client.converse_stream(**PARAMS)["stream"])
    assert str(ours.value) == str(theirs.value)


def test_an_error_answer_to_a_stream_raises_before_any_event(fake):
    fake.set_faults(Fault("access_denied"))

    with pytest.raises(ClientError) as raised:
        with_sender(ChatbotSettings(), _stream_events)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_socket_failures_map_to_the_exceptions_botocores_own_session_raises():
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse"
    key = aiohttp.client_reqrep.ConnectionKey("h", 443, True, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    cases = [
        (aiohttp.ConnectionTimeoutError(), ConnectTimeoutError),
        (aiohttp.SocketTimeoutError(), ReadTimeoutError),
        (refused, EndpointConnectionError),
        (aiohttp.ServerDisconnectedError(), ConnectionClosedError),
        (aiohttp.ClientPayloadError("cut"), ConnectionClosedError),
        (aiohttp.ClientOSError(104, "reset"), ConnectionClosedError),
        (aiohttp.ClientError("anything else"), HTTPClientError),
    ]
    for error, expected in cases:
        mapped = botocore_error(error, url)
        assert type(mapped) is expected, error
        # Never a bare TimeoutError: the retry loop reads that as the question's own deadline.
        assert not isinstance(mapped, TimeoutError)


def test_a_cancelled_call_gives_its_slot_back():
    settings = ChatbotSettings(max_concurrent_upstream=1, admission_wait_seconds=0.05)
    metrics = ChatMetrics()

    async def run() -> None:
        pool = UpstreamPool(settings, metrics)
        deadline = Deadline(5)

        async def hold() -> None:
            async with pool.slot(deadline):
                await asyncio.sleep(10)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.01)
        with pytest.raises(ServiceBusy):
            async with pool.slot(deadline):
                pass
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
        async with pool.slot(deadline):
            assert metrics.upstream_in_flight._value.get() == 1

    asyncio.run(run())
    assert metrics.upstream_in_flight._value.get() == 0
