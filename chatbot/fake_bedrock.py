"""A fake Amazon Bedrock runtime over real HTTP that boto3's `bedrock-runtime` client uses as is.

Point a client at it with `endpoint_url=fake.url` or `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.url`
and any dummy credentials from the environment. It serves, as Bedrock does (protocol
`rest-json`, signing name `bedrock`, model id percent-encoded in the path):

- `POST /model/{modelId}/converse` - Converse;
- `POST /model/{modelId}/converse-stream` - ConverseStream, framed as an AWS event stream
  (messageStart, one contentBlockDelta per word, contentBlockStop, messageStop, metadata);
- `POST /model/{modelId}/invoke` - InvokeModel with Claude's Messages body (Claude 2 / Instant
  ids take the Text Completions body instead); any other body is a 400 ValidationException,
  so the naive script's `{"prompt", "max_tokens", "temperature"}` is rejected as by Bedrock.

Errors are JSON `{"message": ...}` with the code in `x-amzn-ErrorType`, at the statuses of
botocore's service model, so boto3 raises `client.exceptions.ThrottlingException` and so on and
botocore's retry modes treat them as they treat Bedrock's. Requests must carry a SigV4
Authorization header scoped to the `bedrock` service (or a Bedrock API key as a Bearer token);
the signature itself is not checked, so any dummy credentials work.

Page marker convention (for the chat service): put the page the user is looking at inside
`<page url="..." title="...">...page text...</page>` in the last user message (or the system
prompt), attribute values HTML-escaped, and optionally the question inside
`<question>...</question>`. The fake answers, deterministically::

    [fake-bedrock] You asked: '<question>' about page '<title>' (<url>).

The question is the `<question>` element of the last user message, or else that message with
its `<page>...</page>` block removed, whitespace collapsed. The first `<page>` tag wins, so a
tag injected into the page text cannot change the echo. Without a page tag the answer ends
"with no page in the prompt." Token counts are len(text)/4 rounded up; the answer is cut at
the request's max tokens with stop reason `max_tokens`.

The model latency runs from the moment the request line arrives, as Bedrock's own latency
includes its front end: the fake's parsing, fault and quota checks and bookkeeping happen
inside it, so a client measuring `end-to-end - latency` measures itself and the network, not
the fake. A `stall` fault holds the request back first; the latency starts after it.

Why `http.server` with a thread per connection rather than uvicorn: the fake's latency is a
sleep, which a thread spends without holding the GIL, so 40+ requests in flight cost nothing;
blocking sleeps make stalls, per-token stream delays and an interruptible stop trivial; and
the fake then shares no event loop with the service under test, which runs uvicorn in the same
process in tests. Its two classic weaknesses are fixed: the listen backlog is 2048 instead of 5
and replies are HTTP/1.1 keep-alive with Content-Length or chunked encoding, so botocore's
connection pool reuses connections.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType

from chatbot.fake_bedrock_faults import Fault, FaultKind, validate_fault_rates
from chatbot.fake_bedrock_http import FakeBedrockHTTPServer
from chatbot.fake_bedrock_runtime import BedrockRuntime
from chatbot.fake_bedrock_stats import FakeStats, RecordedRequest

__all__ = [
    "FakeBedrock",
    "FakeBedrockConfig",
    "FakeStats",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "main",
]


@dataclass(frozen=True)
class FakeBedrockConfig:
    """Everything the fake can vary. The defaults: instant answers, no quota, no faults."""

    latency_ms_median: float = 0.0
    latency_ms_p99: float | None = None  # None: every answer takes the median exactly
    stream_token_delay_ms: float = 0.0  # between two contentBlockDelta events
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None  # charged input tokens + max tokens on admission
    quota_window_seconds: float = 60.0  # the sliding window; tests shorten it
    fault_rates: Mapping[str, float] = field(default_factory=dict)  # FaultKind -> probability
    faults: tuple[Fault, ...] = ()  # scripted faults, applied in order before the rates
    stall_seconds: float = 30.0  # how long a `stall` fault holds the answer back
    model_max_tokens: int = 4096  # the model's output limit, and the default max tokens
    require_signature: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        validate_fault_rates(self.fault_rates)
        object.__setattr__(self, "fault_rates", MappingProxyType(dict(self.fault_rates)))
        object.__setattr__(self, "faults", tuple(self.faults))
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, or None for no quota")
        if self.quota_window_seconds <= 0 or self.stall_seconds < 0:
            raise ValueError("quota_window_seconds must be positive, stall_seconds not negative")
        if self.latency_ms_median < 0 or self.stream_token_delay_ms < 0:
            raise ValueError("latencies must not be negative")
        if self.latency_ms_p99 is not None and self.latency_ms_p99 < self.latency_ms_median:
            raise ValueError("latency_ms_p99 must be at least latency_ms_median")


class NotLoopbackError(ValueError):
    """The fake accepts any credentials, so it must never listen beyond this machine."""


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopbackError(f"fake Bedrock binds loopback only (e.g. 127.0.0.1), not {host!r}")


class FakeBedrock:
    """The fake server: `start()` binds and serves in a background thread, `stop()` ends it."""

    def __init__(
        self,
        config: FakeBedrockConfig = FakeBedrockConfig(),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        _require_loopback(host)
        self.stats = FakeStats()
        self._runtime = BedrockRuntime(config, self.stats)
        self._address = (host, port)
        self._server: FakeBedrockHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> FakeBedrockConfig:
        return self._runtime.config

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, the value for `endpoint_url` once started."""
        if self._server is None:
            raise RuntimeError("FakeBedrock is not started: call start() or use it as a context")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBedrock:
        if self._server is not None:
            raise RuntimeError("FakeBedrock is already started")
        self._runtime.stopping.clear()
        self._server = FakeBedrockHTTPServer(self._address, self._runtime)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fake-bedrock-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping replies (they are dropped) and close every connection."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._runtime.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def set_faults(self, *faults: Fault) -> None:
        """Replace the scripted faults (none: only the configured fault rates remain)."""
        self._runtime.plan.replace(faults)

    def set_config(self, config: FakeBedrockConfig) -> None:
        """Replace the whole configuration; quota windows restart empty, faults are replaced."""
        self._runtime.configure(config)

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(
    port: int,
    host: str = "127.0.0.1",
    latency_ms_median: float = 0.0,
    latency_ms_p99: float | None = None,
    stream_token_delay_ms: float = 0.0,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    fault_rates: Mapping[str, float] | None = None,
    seed: int = 0,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM): the body of `ccseg chatbot fake-bedrock`."""
    config = FakeBedrockConfig(
        latency_ms_median=latency_ms_median,
        latency_ms_p99=latency_ms_p99,
        stream_token_delay_ms=stream_token_delay_ms,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        fault_rates=dict(fault_rates or {}),
        seed=seed,
    )
    stop_requested = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    with FakeBedrock(config, host=host, port=port) as fake:
        print(f"fake Bedrock runtime listening on {fake.url}", flush=True)
        print(f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={fake.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop_requested.wait()
