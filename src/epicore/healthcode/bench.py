"""Benchmark: python -m epicore.healthcode.bench [--count N --repeat R].

Measures health-token verification per second in one process on one core (the process is
pinned to a single CPU where the OS allows), the median of R runs of N verifications, next to
baselines measured in the same run on the same token: the raw Ed25519 verification of the same
signed bytes (the floor: what cryptography/OpenSSL costs) and base45 decoding alone. The gap
between the floor and the full verification is the cost of our parsing and checks.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import cryptography

from epicore.base45 import b45decode
from epicore.healthcode.keys import KeyRing, new_key
from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import (
    PREFIX,
    SIGNATURE_SIZE,
    SIGNED_PREFIX,
    MemoryReplayCache,
    issue_health_token,
    subject_pseudonym,
    verify_health_token,
)

TARGET_PER_SECOND = 5_000


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def rate(operation: Callable[[], object], count: int, repeat: int) -> float:
    """Median operations per second over `repeat` timed runs of `count` operations."""
    operation()  # warm caches
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(count):
            operation()
        runs.append(count / (time.perf_counter() - start))
    return statistics.median(runs)


def measure(count: int, repeat: int) -> list[tuple[str, float]]:
    now = datetime.now(UTC)
    ring = KeyRing([new_key("health", now - timedelta(hours=1))])
    public_ring = KeyRing.from_jwks(ring.to_jwks())
    token = issue_health_token(ring, subject_pseudonym(b"bench", "p1"), Colour.GREEN, now)
    raw = b45decode(token[len(PREFIX) :])
    payload, signature = raw[:-SIGNATURE_SIZE], raw[-SIGNATURE_SIZE:]
    public_key = next(iter(public_ring)).public_key
    cache = MemoryReplayCache()
    return [
        (
            "Ed25519 verify only (floor)",
            rate(lambda: public_key.verify(signature, SIGNED_PREFIX + payload), count, repeat),
        ),
        ("base45 decode only", rate(lambda: b45decode(token[len(PREFIX) :]), count, repeat)),
        (
            "verify_health_token",
            rate(lambda: verify_health_token(token, public_ring, now), count, repeat),
        ),
        (
            "verify_health_token + replay cache",
            rate(lambda: _fresh_cache_verify(token, public_ring, now, cache), count, repeat),
        ),
    ]


def _fresh_cache_verify(token, ring, now, cache: MemoryReplayCache) -> None:
    """A replay cache that forgets each time, so the same token counts as new every call."""
    cache._expiry.clear()
    verify_health_token(token, ring, now, replay_cache=cache)


def markdown(results: list[tuple[str, float]], count: int, repeat: int, pinned: str) -> str:
    lines = [
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{platform.machine()}, {pinned}; median of {repeat} runs x {count} verifications",
        "",
        "| step | per second | µs each |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {r:,.0f} | {1e6 / r:.1f} |" for name, r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    pinned = pin_to_one_core()
    results = measure(args.count, args.repeat)
    print(markdown(results, args.count, args.repeat, pinned))
    full = dict(results)["verify_health_token"]
    verdict = "meets" if full >= TARGET_PER_SECOND else "MISSES"
    print(f"\nverify_health_token {verdict} the target of {TARGET_PER_SECOND:,}/s")
    return 0 if full >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
