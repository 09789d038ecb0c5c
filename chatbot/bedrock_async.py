"""Bedrock calls on the event loop: the boto3 client builds, signs and parses; aiohttp sends.

Why: boto3 blocks, so each call used to run in a worker thread, and after the idle gaps of a
quiet site every call paid two cross-thread wake-ups (loop to worker, worker back to the loop)
that cost several milliseconds at p99 on a small VM (BENCHMARKS.md, chat section). Only the
socket I/O moves here: the request goes through the boto3 client's own pipeline (parameter
events, endpoint rules, user agent, SigV4 with the credentials of the default chain) and the
answer through its own parser and exception classes, so callers and `upstream_errors.classify`
see exactly what `client.converse()` would give them. aiobotocore does the same on a wider
scale, but no release of it supports the locked botocore.

The steps below are those of `BaseClient._make_api_call` and `Endpoint._send_request` in the
locked botocore, including some of their private helpers; every path runs against the fake
Bedrock over real HTTP in the tests, so a botocore upgrade that changes them fails there.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from botocore.auth import resolve_auth_scheme_preference
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compress import maybe_compress_request
from botocore.endpoint import convert_to_response_dict
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpchecksum import (
    apply_request_checksum,
    handle_checksum_body,
    resolve_checksum_context,
)
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel

from chatbot.settings import ChatbotSettings


class _NoBody:
    """Stands for an event stream's body while botocore parses the response around it."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """The socket is closed by leaving `AsyncBedrockSender.event_stream`, not here."""


class _BufferedBody:
    """The raw-body interface botocore's AWSResponse reads `content` through."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter((self._data,))


def botocore_error(error: aiohttp.ClientError, url: str) -> Exception:
    """The exception botocore's urllib3 session raises for the same failure of the socket."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ServerTimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return ConnectionClosedError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientOSError):
        return ConnectionClosedError(endpoint_url=url, error=error)
    return HTTPClientError(error=error)


def _text_headers(request: AWSPreparedRequest) -> dict[str, str]:
    # botocore encodes header values to bytes just before sending; aiohttp wants text.
    return {
        name: value.decode("utf-8") if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }


class AsyncBedrockSender:
    """Sends the boto3 client's requests with aiohttp; one per process, like the client."""

    def __init__(self, client: BaseClient, settings: ChatbotSettings) -> None:
        self._client = client
        self._service_id = client.meta.service_model.service_id.hyphenize()
        self._pool_size = settings.max_pool_connections
        # The socket timeouts botocore would apply: the connect timeout, and the read timeout
        # between two reads (which also ends a stream that went silent).
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.connect_timeout_seconds,
            sock_read=settings.read_timeout_seconds,
        )
        self._session: aiohttp.ClientSession | None = None
        self._operations: dict[str, OperationModel] = {}

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running loop (uvicorn's).
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                # botocore's trust store (certifi's bundle, or AWS_CA_BUNDLE via the client).
                ssl=ssl.create_default_context(cafile=get_cert_path(True)),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,
                # botocore sends neither; Bedrock's answers stay uncompressed, as with boto3.
                skip_auto_headers=("Accept", "Accept-Encoding"),
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, which botocore honours too
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _operation(self, name: str) -> OperationModel:
        if name not in self._operations:
            self._operations[name] = self._client.meta.service_model.operation_model(name)
        return self._operations[name]

    def prepare(
        self, operation_name: str, params: dict[str, Any]
    ) -> tuple[AWSPreparedRequest, OperationModel, dict[str, Any]]:
        """The signed request `client.<operation>(**params)` would send (no I/O)."""
        client = self._client
        operation_model = self._operation(operation_name)
        config = client.meta.config
        if operation_model.auth and config.auth_scheme_preference:
            preferred = config.auth_scheme_preference.split(",")
            auth_type = resolve_auth_scheme_preference(preferred, operation_model.auth)
        else:
            auth_type = operation_model.resolved_auth_type
        request_context: dict[str, Any] = {
            "client_region": client.meta.region_name,
            "client_config": config,
            "has_streaming_input": operation_model.has_streaming_input,
            "auth_type": auth_type,
            "unsigned_payload": operation_model.unsigned_payload,
            "auth_options": client.meta.service_model.metadata.get("auth"),
        }
        params = client._emit_api_params(params, operation_model, request_context)
        endpoint_url, headers, properties = client._resolve_endpoint_ruleset(
            operation_model, params, request_context
        )
        if properties:
            request_context["endpoint_properties"] = properties
        request_dict = client._convert_to_request_dict(
            params, operation_model, endpoint_url, request_context, headers
        )
        resolve_checksum_context(request_dict, operation_model, params)
        maybe_compress_request(config, request_dict, operation_model)
        apply_request_checksum(request_dict)
        context = request_dict["context"]
        client._endpoint._update_retries_context(context, 1)  # the one attempt botocore sees
        # Emits `request-created`, on which the client's signer signs the request.
        request = client._endpoint.create_request(request_dict, operation_model)
        return request, operation_model, context

    @asynccontextmanager
    async def _send(self, request: AWSPreparedRequest) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response, its headers read; socket failures as botocore's exceptions."""
        try:
            async with self._http().request(
                request.method, request.url, data=request.body, headers=_text_headers(request)
            ) as response:
                yield response
        except aiohttp.ClientError as error:
            raise botocore_error(error, request.url) from error

    def _parse(
        self,
        http_response: AWSResponse,
        operation_model: OperationModel,
        context: dict[str, Any],
    ) -> dict[str, Any]:
        """Parsed as botocore parses it; an error status raised as the client's exception."""
        endpoint = self._client._endpoint
        response_dict = convert_to_response_dict(http_response, operation_model)
        handle_checksum_body(http_response, response_dict, context, operation_model)
        name = operation_model.name
        customized: dict[str, Any] = {}
        events = self._client.meta.events
        events.emit(
            f"before-parse.{self._service_id}.{name}",
            operation_model=operation_model,
            response_dict=response_dict,
            customized_response_dict=customized,
        )
        protocol = operation_model.service_model.resolved_protocol
        parser = endpoint._response_parser_factory.create_parser(protocol)
        parsed: dict[str, Any] = parser.parse(response_dict, operation_model.output_shape)
        parsed.update(customized)
        if http_response.status_code >= 300:
            endpoint._add_modeled_error_fields(response_dict, parsed, operation_model, parser)
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = 0
        events.emit(
            f"after-call.{self._service_id}.{name}",
            http_response=http_response,
            parsed=parsed,
            model=operation_model,
            context=context,
        )
        if http_response.status_code >= 300:
            code = context.get("error_code_override") or parsed.get("Error", {}).get("Code")
            raise self._client.exceptions.from_code(code)(parsed, name)
        return parsed

    async def call(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """What `client.<operation>(**params)` returns or raises, for a non-streaming answer."""
        request, operation_model, context = self.prepare(operation_name, params)
        async with self._send(request) as response:
            body = await response.read()
            http_response = AWSResponse(
                request.url, response.status, response.headers.items(), _BufferedBody(body)
            )
        return self._parse(http_response, operation_model, context)

    @asynccontextmanager
    async def event_stream(
        self, operation_name: str, params: dict[str, Any]
    ) -> AsyncIterator[tuple[dict[str, Any], AsyncIterator[Any]]]:
        """The parsed response of an event-stream operation and its events, as they arrive.

        Leaving the context closes the stream; an error answer raises before it is entered.
        """
        request, operation_model, context = self.prepare(operation_name, params)
        async with self._send(request) as response:
            body = _BufferedBody(await response.read()) if response.status >= 300 else _NoBody()
            http_response = AWSResponse(
                request.url, response.status, response.headers.items(), body
            )
            parsed = self._parse(http_response, operation_model, context)
            stream = next(value for value in parsed.values() if isinstance(value, EventStream))
            yield parsed, _events(response, stream)


async def _events(response: aiohttp.ClientResponse, stream: EventStream) -> AsyncIterator[Any]:
    """Events as botocore's EventStream yields them, decoded from chunks as they arrive."""
    buffer = EventStreamBuffer()
    async for chunk in response.content.iter_any():
        buffer.add_data(chunk)
        for message in buffer:  # raises botocore's ChecksumMismatch etc. on a broken frame
            # The parsing step of EventStream.__iter__; an exception message raises its
            # EventStreamError (a ClientError), exactly as iterating botocore's stream does.
            event = stream._parse_event(message)
            if event:
                yield event


__all__ = ["AsyncBedrockSender", "botocore_error"]
