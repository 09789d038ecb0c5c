"""Which model to ask: the primary, or the fallback while the primary is throttled or failing.

On-demand Bedrock quotas are per model (and inference profile), so when the primary is
throttled a different model usually still has room. A model that was throttled or unavailable
cools down for `CHATBOT_MODEL_COOLDOWN_SECONDS`: questions go straight to the other model
instead of each one paying a failed call first. With no fallback configured this is a no-op and
retries go to the primary, as before. Used from the event loop only, so it needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

PRIMARY_FAILED = "primary_failed"
PRIMARY_COOLING = "primary_cooling"


@dataclass(frozen=True)
class ModelChoice:
    model_id: str
    fallback_reason: str | None  # None: the primary; else why the fallback was chosen


class ModelRouter:
    def __init__(
        self,
        primary: str,
        fallback: str | None,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self._models = (primary,) if fallback is None else (primary, fallback)
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._cooling_until: dict[str, float] = {}

    @property
    def has_fallback(self) -> bool:
        return len(self._models) > 1

    def _cooling(self, model_id: str) -> bool:
        return self._cooling_until.get(model_id, 0.0) > self._clock()

    def choose(self, failed_in_this_request: Collection[str] = ()) -> ModelChoice:
        """A model this request has not seen fail that is not cooling down, primary first."""
        candidates = [m for m in self._models if m not in failed_in_this_request]
        candidates = candidates or list(self._models)
        ready = [model for model in candidates if not self._cooling(model)]
        if ready:
            model_id = ready[0]
        else:  # everything is cooling: the one that recovers first
            model_id = min(candidates, key=lambda model: self._cooling_until.get(model, 0.0))
        if model_id == self.primary:
            return ModelChoice(model_id, None)
        reason = PRIMARY_FAILED if self.primary in failed_in_this_request else PRIMARY_COOLING
        return ModelChoice(model_id, reason)

    def cool_down(self, model_id: str) -> bool:
        """Leave this model alone for the cool-down; False when there is nothing to switch to."""
        if not self.has_fallback:
            return False
        self._cooling_until[model_id] = self._clock() + self._cooldown_seconds
        return True

    def recovered(self, model_id: str) -> None:
        self._cooling_until.pop(model_id, None)
