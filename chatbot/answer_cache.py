"""The response cache: the same question about the same page content gets the same answer.

A widget on every page receives the same few questions about the same pages many times; each
cache hit saves a model call (money, quota) and answers in milliseconds. The key holds
everything the answer depends on: the question (normalised: Unicode NFKC, case-folded,
whitespace collapsed), the page address without query or fragment, the title, a hash of the page
text as trimmed for the prompt, and every model setting (models, max tokens, temperature,
guardrail, site name). So an answer never crosses pages, and a settings change starts afresh.

Backends: cachetools' TTLCache in process memory by default (bounded in entries, so a flood of
distinct questions cannot grow memory), or Redis (redis-py) when `CHATBOT_REDIS_URL` is set, so
instances share answers. A cache failure is a miss, never an error: answering is what matters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from cachetools import TTLCache

from chatbot.models import ChatRequest
from chatbot.observability import ChatMetrics, log_event
from chatbot.settings import ChatbotSettings

logger = logging.getLogger("chatbot.cache")

KEY_PREFIX = "ccseg:chat:answer:v1:"
# Redis sits on the answer path: a slow one must cost milliseconds, not the deadline.
REDIS_TIMEOUT_SECONDS = 0.1


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    stop_reason: str


def normalise_question(question: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", question).casefold().split())


def page_address(url: str) -> str:
    """The page without query string or fragment, scheme and host in lower case."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def answer_cache_key(
    request: ChatRequest, trimmed_page_text: str, settings: ChatbotSettings
) -> str:
    page_hash = hashlib.sha256(trimmed_page_text.encode("utf-8")).hexdigest()
    parts = [
        normalise_question(request.message),
        page_address(request.page.url),
        request.page.title,
        page_hash,
        settings.model_id,
        settings.fallback_model_id or "",
        settings.max_tokens,
        settings.temperature,
        settings.guardrail_id or "",
        settings.guardrail_version or "",
        settings.site_name,
    ]
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()
    return KEY_PREFIX + digest


class CacheBackend(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...
    async def reachable(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """Process memory, bounded: least recently used entries go first when it is full."""

    def __init__(self, max_entries: int, ttl_seconds: int) -> None:
        # Used from the event loop only, so cachetools' lack of locking does not matter.
        self._entries: TTLCache[str, str] = TTLCache(maxsize=max_entries, ttl=ttl_seconds)

    async def get(self, key: str) -> str | None:
        return self._entries.get(key)

    async def set(self, key: str, value: str) -> None:
        self._entries[key] = value

    async def reachable(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


class RedisBackend:
    """Shared by every instance; entries expire by Redis' own TTL."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self._client = redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._ttl_seconds = ttl_seconds

    async def get(self, key: str) -> str | None:
        return await self._client.get(key)

    async def set(self, key: str, value: str) -> None:
        await self._client.set(key, value, ex=self._ttl_seconds)

    async def reachable(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()


class AnswerCache:
    """Looks answers up and stores them, counting hits and misses; a failure counts as a miss."""

    def __init__(self, backend: CacheBackend, metrics: ChatMetrics) -> None:
        self.backend = backend
        self._metrics = metrics

    async def lookup(self, key: str, request_id: str) -> CachedAnswer | None:
        try:
            raw = await self.backend.get(key)
        except Exception as error:  # a broken cache must not break answering
            self._metrics.cache_lookups.labels("error").inc()
            _log_unavailable(error, request_id)
            return None
        if raw is None:
            self._metrics.cache_lookups.labels("miss").inc()
            return None
        self._metrics.cache_lookups.labels("hit").inc()
        stored = json.loads(raw)
        return CachedAnswer(stored["text"], stored["stop_reason"])

    async def store(self, key: str, answer: CachedAnswer, request_id: str) -> None:
        value = json.dumps({"text": answer.text, "stop_reason": answer.stop_reason})
        try:
            await self.backend.set(key, value)
        except Exception as error:
            _log_unavailable(error, request_id)


def _log_unavailable(error: Exception, request_id: str) -> None:
    detail = type(error).__name__
    log_event(logger, logging.WARNING, "cache_unavailable", request_id=request_id, detail=detail)


def make_answer_cache(settings: ChatbotSettings, metrics: ChatMetrics) -> AnswerCache | None:
    """None when caching is off; Redis when a URL is set; else bounded process memory."""
    if not settings.cache_enabled:
        return None
    backend: CacheBackend
    if settings.redis_url:
        backend = RedisBackend(settings.redis_url, settings.cache_ttl_seconds)
    else:
        backend = MemoryBackend(settings.cache_max_entries, settings.cache_ttl_seconds)
    return AnswerCache(backend, metrics)
