"""Chat service overhead and capacity under open-loop load, against the fake Bedrock.

Three processes: the fake Bedrock (fixed model latency, counted from the request's arrival, so
`overhead = end-to-end - latency` holds the service, both HTTP exchanges and this generator, not
the fake's own work), the service (`python -m chatbot.cli serve`, limits raised so
they never reject the load) and this load generator. Arrivals are open-loop (fired on schedule
whatever the responses) and latency is measured from the scheduled send time, so a slow service
cannot hide its queueing. The baseline calls the fake straight through boto3 from this process
at the same rate: what any Bedrock client pays, the service's overhead on top of it is the rest.
The generator yields to the loop for the last 2 ms before each send (`wait_until`) instead of
trusting a sleep that fires ~1 ms late: latency counts from the scheduled time, so the
generator's own lateness would be counted as the service's overhead.

The service runs as production would: session tokens required (every request carries one, got
from POST /api/session beforehand, as the widget does), token limits and the daily budget
counted on every request (raised so they never refuse), the response cache on. The overhead and
capacity questions are all different (cache misses: the worst case); the cache-hit phase asks
one question about one page over and over.

    python -m bench.chatbot_overhead                 # full run (about 17 minutes)
    python -m bench.chatbot_overhead --quick         # a smoke run of about a minute
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from chatbot.prompting import trim_page_text
from chatbot.settings import ChatbotSettings
from tasks.loadtest.driver import arrival_offsets
from tasks.loadtest.summary import percentile

REPO_ROOT = Path(__file__).resolve().parents[1]
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
# The origin the load claims to come from: allowed, so it gets session tokens like the widget.
BENCH_ORIGIN = "https://bench.example.com"
SESSIONS = 500
# Limits far above the load (but counted on every request), a pool big enough for the highest
# step, tokens required, production defaults else (cache on, in memory).
SERVICE_ENV = {
    "CHATBOT_SESSION_RATE_LIMIT": "1000000/minute",
    "CHATBOT_IP_RATE_LIMIT": "1000000/minute",
    "CHATBOT_SESSION_TOKEN_RATE_LIMIT": "1000000000/minute",
    "CHATBOT_IP_TOKEN_RATE_LIMIT": "1000000000/minute",
    "CHATBOT_SESSION_GRANT_RATE_LIMIT": "1000000/minute",
    "CHATBOT_GLOBAL_REQUESTS_PER_MINUTE": "1000000",
    "CHATBOT_GLOBAL_TOKENS_PER_MINUTE": "100000000",
    "CHATBOT_DAILY_TOKEN_BUDGET": "10000000000",
    "CHATBOT_MAX_POOL_CONNECTIONS": "512",
    "CHATBOT_MAX_CONCURRENT_UPSTREAM": "512",
    "CHATBOT_REQUIRE_TOKEN": "true",
    "CHATBOT_CORS_ALLOW_ORIGINS": BENCH_ORIGIN,
    "CHATBOT_CACHE_ENABLED": "true",
    # Longer than the cache-hit phase (6 x 60 s), so its one answer is not evicted half-way
    # (the default 300 s would turn one request of the phase into a model call).
    "CHATBOT_CACHE_TTL_SECONDS": "3600",
    # The run outlasts the default 15-minute token: the widget renews on 401, and a benchmark
    # that did would measure renewals instead of questions.
    "CHATBOT_TOKEN_TTL_SECONDS": "86400",
    "CHATBOT_LOG_LEVEL": "INFO",
}
# A long page (~23,000 characters, above the 1,500-token page budget), so every request pays for
# trimming the page text the way a real article or terms page makes the widget send it.
PAGE_TEXT = "\n".join(
    f"Section {index}: the premium card costs 90 EUR a year; cash advances cost 3% of the amount."
    for index in range(250)
)
# The baseline sends what the service sends upstream: the page trimmed to the default budget.
BASELINE_PAGE = trim_page_text(
    PAGE_TEXT,
    "What does the premium card cost?",
    ChatbotSettings.model_fields["page_token_budget"].default,
)
BUDGET_SECONDS = 2.0
# How long before each send the generator stops sleeping and starts yielding to the loop until
# the send is due: asyncio's epoll wait rounds its timeout up to whole milliseconds and the
# wake-up after an idle gap adds up to ~1.5 ms more (p99 on this machine), so a plain sleep fires
# 1 ms late at the median and 2.5 ms at p99. 2 ms covers both; each send spins at most that long.
SPIN_MARGIN_S = 0.002
# ...but never more than this share of a core: at 6,000/min a 2 ms spin per send costs up to
# ~18 % of one of the 2 cores the three processes share, and the step collapsed in 2 of 3 runs,
# twice (the plain sleep held in the same hour). At 100 and 1,000/min the margin stays 2 ms.
SPIN_CPU_SHARE = 0.05


@dataclass(frozen=True)
class Sample:
    status: int  # 0: transport error
    latency_s: float  # from the scheduled send time to the end of the response
    upstream_ms: float | None  # the service's Server-Timing, when present
    lag_s: float = 0.0  # how late the generator fired it (open loop: it should be ~0)
    sent_at: float = 0.0  # perf_counter() when it actually left, for the achieved rate


@dataclass(frozen=True)
class Summary:
    label: str
    target_per_minute: float
    sent: int
    ok: int
    errors: int
    achieved_per_minute: float
    generator_lag_p50_ms: float
    generator_lag_p99_ms: float
    e2e_p50_ms: float
    e2e_p95_ms: float
    e2e_p99_ms: float
    overhead_p50_ms: float
    overhead_p99_ms: float
    service_only_p50_ms: float | None
    service_only_p99_ms: float | None
    load_average: float
    cpu_ms_per_request: float | None = None


def achieved_per_minute(samples: list[Sample]) -> float:
    """Requests per minute actually sent, from the first to the last send time."""
    sent = sorted(sample.sent_at for sample in samples)
    span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
    return (len(sent) - 1) / span * 60 if span > 0 else 0.0


def _percentile_ms(values: list[float], q: float) -> float:
    value = percentile(values, q)
    return float("nan") if value is None else value


def summarize(label: str, rate: float, samples: list[Sample], latency_ms: float) -> Summary:
    ok = [sample for sample in samples if sample.status == 200]
    e2e = [sample.latency_s * 1000 for sample in ok]
    overhead = [value - latency_ms for value in e2e]
    service_only = [
        sample.latency_s * 1000 - sample.upstream_ms for sample in ok if sample.upstream_ms
    ]
    return Summary(
        label=label,
        target_per_minute=rate,
        sent=len(samples),
        ok=len(ok),
        errors=len(samples) - len(ok),
        achieved_per_minute=achieved_per_minute(samples),
        generator_lag_p50_ms=_percentile_ms([sample.lag_s * 1000 for sample in samples], 50),
        generator_lag_p99_ms=_percentile_ms([sample.lag_s * 1000 for sample in samples], 99),
        e2e_p50_ms=_percentile_ms(e2e, 50),
        e2e_p95_ms=_percentile_ms(e2e, 95),
        e2e_p99_ms=_percentile_ms(e2e, 99),
        overhead_p50_ms=_percentile_ms(overhead, 50),
        overhead_p99_ms=_percentile_ms(overhead, 99),
        service_only_p50_ms=percentile(service_only, 50),
        service_only_p99_ms=percentile(service_only, 99),
        load_average=os.getloadavg()[0],
    )


async def wait_until(
    due: float,
    margin_s: float = SPIN_MARGIN_S,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Sleep until `margin_s` before `due`, then yield to the loop until it is due, never earlier.

    The yielding part (`sleep(0)`) lets every in-flight request's I/O and callbacks run between
    two looks at the clock, so a send that is due does not hold the responses back; it only
    costs CPU, at most `margin_s` per send. `margin_s=0` is a plain sleep to the due time.
    """
    coarse = due - margin_s - clock()
    if coarse > 0:
        await sleep(coarse)
    while clock() < due:
        await sleep(0)


async def open_loop(
    send_one: Callable[[int], Awaitable[Sample]],
    per_minute: float,
    duration_s: float,
    seed: int,
    margin_s: float = SPIN_MARGIN_S,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Sample]:
    """Fire `per_minute` requests per minute for `duration_s`, on schedule (Poisson arrivals)."""
    offsets = arrival_offsets(per_minute, duration_s, seed) or [0.0]
    margin_s = min(margin_s, SPIN_CPU_SHARE * 60 / per_minute)
    start = clock() + 0.05
    tasks = []
    for index, offset in enumerate(offsets):
        await wait_until(start + offset, margin_s, clock, sleep)
        tasks.append(asyncio.create_task(_timed(send_one, index, start + offset, clock)))
    return list(await asyncio.gather(*tasks))


async def _timed(
    send_one: Callable[[int], Awaitable[Sample]],
    index: int,
    due: float,
    clock: Callable[[], float] = time.perf_counter,
) -> Sample:
    sent_at = clock()
    sample = await send_one(index)
    latency = clock() - due
    return Sample(sample.status, latency, sample.upstream_ms, sent_at - due, sent_at)


def session_id(index: int) -> str:
    return f"bench-session-{index % SESSIONS:04d}"


async def session_headers(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """A token per session, got before the clock starts, as the widget gets one per visit."""
    headers = {}
    for index in range(SESSIONS):
        response = await client.post(
            "/api/session", json={"session_id": session_id(index)}, headers={"Origin": BENCH_ORIGIN}
        )
        response.raise_for_status()
        token = response.json()["token"]
        headers[session_id(index)] = {"Origin": BENCH_ORIGIN, "Authorization": f"Bearer {token}"}
    return headers


def service_sender(
    client: httpx.AsyncClient, headers: dict[str, dict[str, str]], same_question: bool = False
) -> Callable[[int], Awaitable[Sample]]:
    """All questions differ (cache misses), or all are the same question (cache hits)."""
    # Unique across every phase of the run, so no phase finds another's answers in the cache.
    numbers = itertools.count()

    async def send_one(index: int) -> Sample:
        session = session_id(index)
        message = "What does the premium card cost?"
        body = {
            "message": message if same_question else f"{message} ({next(numbers)})",
            "page": {
                "url": "https://www.example.com/cards/fees",
                "title": "Card fees explained",
                "text": PAGE_TEXT,
            },
            "session_id": session,
        }
        try:
            response = await client.post("/api/chat", json=body, headers=headers[session])
        except httpx.HTTPError:
            return Sample(0, 0.0, None)
        timing = response.headers.get("server-timing", "")
        upstream = float(timing.split("dur=")[1]) if "dur=" in timing else None
        return Sample(response.status_code, 0.0, upstream)

    return send_one


def boto3_sender(fake_url: str, pool: ThreadPoolExecutor) -> Callable[[int], Awaitable[Sample]]:
    config = Config(
        region_name="us-east-1",
        max_pool_connections=512,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=1,
        read_timeout=10,
    )
    client = boto3.session.Session().client("bedrock-runtime", endpoint_url=fake_url, config=config)
    kwargs = {
        "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "system": [{"text": "You are a help assistant."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": f'<page url="https://www.example.com">{BASELINE_PAGE}</page>'}
                ],
            }
        ],
        "inferenceConfig": {"maxTokens": 400, "temperature": 0.2},
    }

    def call() -> int:
        try:
            client.converse(**kwargs)
            return 200
        except Exception:
            return 0

    async def send_one(_: int) -> Sample:
        status = await asyncio.get_running_loop().run_in_executor(pool, call)
        return Sample(status, 0.0, None)

    return send_one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with code {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(command: list[str], env: dict[str, str], probe_url: str) -> Iterator[int]:
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(probe_url, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def measure(
    label: str,
    send_one: Callable[[int], Awaitable[Sample]],
    rate: float,
    duration: float,
    seed: int,
    latency_ms: float,
    service_pid: int | None,
    margin_s: float,
) -> Summary:
    cpu_before = process_cpu_seconds(service_pid) if service_pid else 0.0
    samples = await open_loop(send_one, rate, duration, seed, margin_s)
    summary = summarize(label, rate, samples, latency_ms)
    if service_pid:
        cpu = process_cpu_seconds(service_pid) - cpu_before
        summary = Summary(**{**asdict(summary), "cpu_ms_per_request": cpu * 1000 / len(samples)})
    print(format_row(summary), flush=True)
    return summary


def median_summary(label: str, runs: list[Summary]) -> Summary:
    """The median of every figure across runs (each figure on its own)."""
    merged = {}
    for name, value in asdict(runs[0]).items():
        values = [getattr(run, name) for run in runs]
        if isinstance(value, str):
            merged[name] = label
        elif any(v is None for v in values):
            merged[name] = None
        else:
            merged[name] = statistics.median(values)
    return Summary(**merged)


def sustained(summary: Summary) -> bool:
    return (
        summary.errors == 0
        and summary.e2e_p95_ms <= BUDGET_SECONDS * 1000
        and summary.generator_lag_p99_ms <= 100
    )


HEADER = (
    "| run | target/min | sent | errors | achieved/min | lag p50 | lag p99 | e2e p50 | e2e p95 "
    "| e2e p99 | overhead p50 | overhead p99 | service-only p50 | service-only p99 | CPU ms/req "
    "| load |"
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_row(s: Summary) -> str:
    return (
        f"| {s.label} | {s.target_per_minute:.0f} | {s.sent} | {s.errors} "
        f"| {s.achieved_per_minute:.0f} | {s.generator_lag_p50_ms:.2f} "
        f"| {s.generator_lag_p99_ms:.2f} "
        f"| {_ms(s.e2e_p50_ms)} | {_ms(s.e2e_p95_ms)} "
        f"| {_ms(s.e2e_p99_ms)} | {_ms(s.overhead_p50_ms)} | {_ms(s.overhead_p99_ms)} "
        f"| {_ms(s.service_only_p50_ms)} | {_ms(s.service_only_p99_ms)} "
        f"| {_ms(s.cpu_ms_per_request)} | {s.load_average:.2f} |"
    )


async def run_benchmark(
    args: argparse.Namespace, fake_url: str, service_url: str, pid: int
) -> dict:
    latency = args.latency_ms
    margin = args.spin_margin_ms / 1000
    results: dict[str, list[dict]] = {
        "low_rate": [],
        "baseline_low_rate": [],
        "cache_hits": [],
        "steps": [],
    }
    limits = httpx.Limits(max_connections=4096, max_keepalive_connections=4096)
    with ThreadPoolExecutor(max_workers=512) as pool:
        async with httpx.AsyncClient(base_url=service_url, timeout=10, limits=limits) as client:
            headers = await session_headers(client)
            service = service_sender(client, headers)
            cached = service_sender(client, headers, same_question=True)
            baseline = boto3_sender(fake_url, pool)
            await measure("warm-up", service, 600, 5, 99, latency, None, margin)
            await measure("warm-up boto3", baseline, 600, 5, 99, latency, None, margin)
            print(HEADER, flush=True)
            low, base = [], []
            for run in range(args.runs if "low" in args.phases else 0):
                low.append(
                    await measure(
                        f"service {run + 1}",
                        service,
                        args.low_rate,
                        args.low_duration,
                        run,
                        latency,
                        pid,
                        margin,
                    )
                )
                base.append(
                    await measure(
                        f"boto3 baseline {run + 1}",
                        baseline,
                        args.low_rate,
                        args.low_duration,
                        run,
                        latency,
                        None,
                        margin,
                    )
                )
            if low:
                results["low_rate"] = [asdict(median_summary("service (median)", low))]
                results["baseline_low_rate"] = [asdict(median_summary("boto3 (median)", base))]
            if "cache" in args.phases:
                await cached(0)  # the first asking fills the cache; everything after is a hit
                for rate in args.cache_rates:
                    runs = [
                        await measure(
                            f"cache hits {rate:.0f} #{run + 1}",
                            cached,
                            rate,
                            args.low_duration,
                            200 + run,
                            0.0,  # no model call: the whole latency is the service's
                            pid,
                            margin,
                        )
                        for run in range(args.runs)
                    ]
                    hits = median_summary(f"cache hits {rate:.0f} (median)", runs)
                    results["cache_hits"].append(asdict(hits))
            for rate in args.rates if "capacity" in args.phases else []:
                runs = [
                    await measure(
                        f"step {rate:.0f} #{run + 1}",
                        service,
                        rate,
                        args.step_duration,
                        100 + run,
                        latency,
                        pid,
                        margin,
                    )
                    for run in range(args.runs)
                ]
                step = median_summary(f"step {rate:.0f} (median)", runs)
                results["steps"].append(asdict(step))
                if not sustained(step):
                    break
            passing = [s for s in results["steps"] if sustained(Summary(**s))]
            if passing:
                top = passing[-1]["target_per_minute"]
                base_top = [
                    await measure(
                        f"boto3 baseline {top:.0f} #{run + 1}",
                        baseline,
                        top,
                        args.step_duration,
                        100 + run,
                        latency,
                        None,
                        margin,
                    )
                    for run in range(args.runs)
                ]
                results["baseline_at_max"] = [asdict(median_summary("boto3 at max", base_top))]
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=800.0, help="fixed model latency")
    parser.add_argument("--low-rate", type=float, default=100.0, help="requests per minute")
    parser.add_argument("--low-duration", type=float, default=60.0, help="seconds per low run")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(value) for value in text.split(",")],
        default=[1000.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0],
        help="comma-separated requests per minute for the capacity steps",
    )
    parser.add_argument(
        "--cache-rates",
        type=lambda text: [float(value) for value in text.split(",")],
        default=[100.0, 1000.0],
        help="comma-separated requests per minute for the cache-hit phase",
    )
    parser.add_argument("--step-duration", type=float, default=20.0, help="seconds per step")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median is kept)")
    parser.add_argument(
        "--phases",
        type=lambda text: set(text.split(",")),
        default={"low", "cache", "capacity"},
        help="which parts to run: low (overhead at --low-rate), cache (cache hits), capacity",
    )
    parser.add_argument(
        "--spin-margin-ms",
        type=float,
        default=SPIN_MARGIN_S * 1000,
        help="yield to the loop for this long before each send instead of sleeping, within "
        f"{SPIN_CPU_SHARE * 100:.0f}%% of a core (0: a plain asyncio.sleep, the generator "
        "before the on-time fix, for comparison)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "bench" / "results" / "chatbot_overhead.json"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.low_duration, args.step_duration, args.runs = 15.0, 8.0, 1
        args.rates = [1000.0, 3000.0]
        args.cache_rates = [100.0]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(DUMMY_AWS_ENV)  # the in-process boto3 baseline uses the default chain too
    env = dict(os.environ)
    fake_port, service_port = free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    cli = [sys.executable, "-m", "chatbot.cli"]
    fake_cmd = [
        *cli,
        "fake-bedrock",
        "--port",
        str(fake_port),
        "--latency-ms",
        str(args.latency_ms),
    ]
    service_env = {
        **env,
        **SERVICE_ENV,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake_url,
        # Made for this run only and handed to the service process: never written anywhere.
        "CHATBOT_TOKEN_SIGNING_KEY": secrets.token_urlsafe(32),
    }
    started = time.time()
    with (
        running(fake_cmd, env, f"{fake_url}/"),
        running(
            [*cli, "serve", "--port", str(service_port)], service_env, f"{service_url}/readyz"
        ) as pid,
    ):
        results = asyncio.run(run_benchmark(args, fake_url, service_url, pid))
    results["meta"] = {
        "cpus": os.cpu_count(),
        "latency_ms": args.latency_ms,
        "runs": args.runs,
        "low_rate_per_minute": args.low_rate,
        "cache_rates_per_minute": args.cache_rates,
        "low_duration_s": args.low_duration,
        "spin_margin_ms": args.spin_margin_ms,
        "step_duration_s": args.step_duration,
        "wall_seconds": round(time.time() - started),
        "load_average_end": os.getloadavg(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {args.output}")


if __name__ == "__main__":
    main()
