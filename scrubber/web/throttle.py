"""Rate limits on log-in and token use, counted by the `limits` library (moving windows).

    SCRUBBER_RATE_LOGIN           log-in attempts per client address (default 10/minute)
    SCRUBBER_RATE_TOKEN_FAILURES  refused bearer tokens per client address (default 30/minute);
                                  once spent, the address gets 429 before any token is checked
    SCRUBBER_RATE_TOKEN           requests per token (default 6000/minute)
    SCRUBBER_RATELIMIT_STORAGE    where counts live (default memory://, one count per process;
                                  any `limits` storage URI, e.g. redis://host:6379, shares them
                                  between gunicorn workers and hosts)

A refusal is 429 with Retry-After. The client address is the connection's; behind a proxy that
is the proxy's, so set the limits there or put a trusted ProxyFix in front.
"""
from __future__ import annotations

import math
import os
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

__all__ = ["Throttle", "RateLimited", "DEFAULT_RATES"]

DEFAULT_RATES = {"login": "10/minute", "token_failures": "30/minute", "token": "6000/minute"}


class RateLimited(Exception):
    def __init__(self, what: str, retry_after: int):
        super().__init__(f"too many {what}; try again in {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    def __init__(self, rates: dict[str, str] | None = None, storage_uri: str = "memory://"):
        self.rates: dict[str, RateLimitItem] = {
            name: parse(value) for name, value in {**DEFAULT_RATES, **(rates or {})}.items()}
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_environment(cls, overrides: dict[str, str] | None = None) -> Throttle:
        """SCRUBBER_RATE_* and SCRUBBER_RATELIMIT_STORAGE; `overrides` (the app's RATE_LIMITS
        setting) win."""
        rates = {name: os.environ[f"SCRUBBER_RATE_{name.upper()}"] for name in DEFAULT_RATES
                 if os.environ.get(f"SCRUBBER_RATE_{name.upper()}")}
        return cls({**rates, **(overrides or {})}, os.environ.get("SCRUBBER_RATELIMIT_STORAGE", "memory://"))

    def _retry_after(self, name: str, key: str) -> int:
        reset = self.strategy.get_window_stats(self.rates[name], name, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit(self, name: str, key: str, what: str) -> None:
        """Count one event; RateLimited once the window is spent."""
        if not self.strategy.hit(self.rates[name], name, key):
            raise RateLimited(what, self._retry_after(name, key))

    def check(self, name: str, key: str, what: str) -> None:
        """RateLimited if the window is already spent, counting nothing."""
        if not self.strategy.test(self.rates[name], name, key):
            raise RateLimited(what, self._retry_after(name, key))

    def count(self, name: str, key: str) -> None:
        """Count one event (the caller has already checked the window)."""
        self.strategy.hit(self.rates[name], name, key)
