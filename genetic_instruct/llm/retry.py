"""When to try an HTTP request again, and how long to wait first.

Kept apart from the engine so the rules can be read (and tested) without a network:
429, 408, 409, 5xx, timeouts and dropped connections are worth another try; any other
4xx means the request itself is wrong and will be wrong again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# 408 Request Timeout and 409 Conflict are transient by definition (RFC 9110); 429 is a
# rate limit. Every other 4xx is a fault of the request.
_RETRYABLE_4XX = frozenset({408, 409, 429})


# The server, not the request: it is down or restarting (a proxy's 502/503/504), the key
# was refused, the model is not served. Retrying one request cannot fix these.
_OUTAGE = frozenset({"connection_error", "timeout", "http_502", "http_503", "http_504"})
_ENGINE_REFUSALS = frozenset({"http_401", "http_403", "http_404"})


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_4XX or status >= 500


def is_outage(reason: str) -> bool:
    """The server cannot be reached or is restarting: retried until the outage deadline."""
    return reason in _OUTAGE


def is_engine_refusal(reason: str) -> bool:
    """The server refuses every request alike (key, model): the run must stop."""
    return reason in _ENGINE_REFUSALS


@dataclass(frozen=True)
class Failure:
    """One failed attempt: a short reason (`http_503`, `timeout`) that ends up in errors."""

    reason: str
    retryable: bool
    retry_after_s: float | None = None  # the server's Retry-After, when it sent one


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110).

    Anything unreadable is None (fall back to our own backoff) rather than an error: a
    server's odd header must not fail a request that a plain retry would save.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; obsolete formats parse as naive
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, floored by the server's Retry-After.

    Full jitter (a uniform draw in [0, base * 2**attempt]) spreads the retries of a batch
    that failed together (a server restart fails every request in flight) instead of
    sending them back in one burst. A Retry-After is honoured as a minimum, plus up to
    `base_s` of jitter for the same reason; it is capped at `max_retry_after_s` so one odd
    header cannot park a whole generation for hours.
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    max_retry_after_s: float = 600.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to sleep before retry number `attempt + 1` (attempt counts from 0)."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s) + rng.uniform(0.0, self.base_s)
        # The exponent is capped: 2.0**1024 overflows, and a request whose connection drops
        # every time while others are answered (the outage deadline never comes) gets
        # there in about four hours of retries.
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64)))
