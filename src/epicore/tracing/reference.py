"""The reference: the contact rules in plain Python, for small inputs. It defines correctness.

Every pair of stays at a venue is compared directly; no buckets, no SQL. The fast engines must
return exactly the same rows (tests/engine/test_tracing*.py). Inputs are the normalised tables
of epicore.tracing.inputs as lists of tuples, times in epoch seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from epicore.tracing.params import TraceParams
from epicore.tracing.plan import OPEN_END

Stay = tuple[int, object, int, int]  # (person, place, start, end), end exclusive
# (person, via, place, start, end, seconds, source_start): source_start is when the source's
# stay (clipped) began, the third key of the choice between exposures (see best).
Exposure = tuple[int, int, object, int, int, int, int]


def clip(
    stays: Iterable[tuple[int, object, int, int]], windows: dict[int, list[tuple[int, int]]]
) -> list[Stay]:
    """Each stay of a person with windows, cut to each window; empty pieces dropped."""
    out = []
    for person, place, s, e in stays:
        for w_from, w_to in windows.get(person, ()):
            start, end = max(s, w_from), min(e, w_to)
            if end > start:
                out.append((person, place, start, end))
    return out


def pairs(sources: list[Stay], stays: list[Stay], excluded: set[int], min_s: int) -> list[Exposure]:
    """Every (source, other) pair of stays at one place overlapping by > 0 and >= min_s."""
    by_place: dict[object, list[Stay]] = defaultdict(list)
    for stay in stays:
        if stay[0] not in excluded:
            by_place[stay[1]].append(stay)
    out = []
    for via, place, s, e in sources:
        for person, _, s2, e2 in by_place.get(place, ()):
            start, end = max(s, s2), min(e, e2)
            if end > start and end - start >= min_s:
                out.append((person, via, place, start, end, end - start, s))
    return out


def best(exposures: Iterable[Exposure]) -> dict[int, Exposure]:
    """Per person: earliest start, then longest, then the source who arrived first, then
    smallest via, then smallest place."""

    def key(x: Exposure) -> tuple:
        return (x[3], -x[5], x[6], x[1], x[2])

    chosen: dict[int, Exposure] = {}
    for x in exposures:
        old = chosen.get(x[0])
        if old is None or key(x) < key(old):
            chosen[x[0]] = x
    return chosen


def ping_spans(pings: list[tuple[int, int, str]], max_gap: int) -> list[Stay]:
    """(person, cell, t, t_end): each ping lasts until the person's next one, capped."""
    ordered = sorted(pings, key=lambda p: (p[0], p[1]))
    out = []
    for i, (person, t, cell) in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        end = t + max_gap
        if nxt is not None and nxt[0] == person:
            end = min(end, nxt[1])
        out.append((person, cell, t, end))
    return out


def companions(
    sources: list[Stay], spans: list[Stay], excluded: set[int], min_s: int
) -> dict[int, Exposure]:
    """Time shared with one case in one cell, summed; kept when more than min_s."""
    pieces: dict[tuple[int, int, object], list[tuple[int, int]]] = defaultdict(list)
    for person, via, cell, s, e, _, _ in pairs(sources, spans, excluded, 0):
        pieces[(person, via, cell)].append((s, e))
    totals = []
    for (person, via, cell), got in pieces.items():
        total = sum(e - s for s, e in got)
        if total > min_s:
            first, last = min(s for s, _ in got), max(e for _, e in got)
            totals.append((person, via, cell, first, last, total, 0))  # no single source stay
    return best(totals)


def trace_reference(
    checkins: list[tuple[int, int, int, int]],
    cases: list[tuple[int, int, int]],
    params: TraceParams,
    isolations: dict[int, int] | None = None,
    pings: list[tuple[int, int, str]] | None = None,
) -> list[tuple[int, str, int, int | None, str | None, int, int, int]]:
    """Contacts as (person_id, degree, via, venue_id, cell, start, end, seconds), sorted."""
    isolations = isolations or {}
    windows: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for person, t_from, t_to in cases:
        windows[person].append((t_from, t_to))
    stays = [(p, v, s, e) for p, v, s, e in checkins if e > s]
    done = set(windows)
    first = best(pairs(clip(stays, windows), stays, done, params.min_overlap_s))
    rows = [(p, "1", x[1], x[2], None, x[3], x[4], x[5]) for p, x in first.items()]
    done |= set(first)
    if params.hops == 2:
        contact_windows = {p: [(x[3], isolations.get(p, OPEN_END))] for p, x in first.items()}
        second = best(pairs(clip(stays, contact_windows), stays, done, params.min_overlap_s))
        rows += [(p, "2", x[1], x[2], None, x[3], x[4], x[5]) for p, x in second.items()]
        done |= set(second)
    if pings is not None:
        spans = ping_spans(pings, params.ping_max_gap_s)
        found = companions(clip(spans, windows), spans, done, params.companion_min_s)
        rows += [(p, "companion", x[1], None, x[2], x[3], x[4], x[5]) for p, x in found.items()]
    return sorted(rows, key=lambda r: (r[1], r[0]))
