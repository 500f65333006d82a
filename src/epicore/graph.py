"""Transmission graphs: generations, clusters and serial intervals from linked cases and contacts.

Nodes are people; an edge `source -> target` says the target was exposed to the source (a case
or a close contact). Generation 0 are nodes nobody exposed; each edge adds one generation (the
shortest chain wins). A cluster is a connected component, ignoring direction. The serial interval
is the time from the infector's symptom onset to the infectee's, over linked pairs of cases
(Fine PEM. "The interval between successive cases of an infectious disease." Am J Epidemiol
2003;158:1039-47); pairs without both onsets are skipped, and negative intervals (presymptomatic
transmission) are kept, as they are real.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Edge:
    source: int
    target: int


def generations(nodes: Iterable[int], edges: Iterable[Edge]) -> dict[int, int]:
    """Shortest number of exposure steps from a node nobody exposed (cycles are tolerated)."""
    nodes = set(nodes)
    children: dict[int, list[int]] = defaultdict(list)
    exposed: set[int] = set()
    for edge in edges:
        children[edge.source].append(edge.target)
        exposed.add(edge.target)
        nodes.update((edge.source, edge.target))
    roots = sorted(nodes - exposed) or sorted(nodes)[:1]
    depth = {root: 0 for root in roots}
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        for child in sorted(children[node]):
            if child not in depth:
                depth[child] = depth[node] + 1
                queue.append(child)
    for node in sorted(nodes - depth.keys()):  # only reachable through a cycle: its own root
        depth[node] = 0
    return depth


def clusters(nodes: Iterable[int], edges: Iterable[Edge]) -> dict[int, int]:
    """Node -> cluster number (1 = the largest cluster; ties by smallest member)."""
    parent: dict[int, int] = {n: n for n in nodes}

    def find(n: int) -> int:
        parent.setdefault(n, n)
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for edge in edges:
        a, b = find(edge.source), find(edge.target)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = defaultdict(list)
    for node in list(parent):
        members[find(node)].append(node)
    ordered = sorted(members.values(), key=lambda m: (-len(m), min(m)))
    return {node: number for number, group in enumerate(ordered, 1) for node in group}


@dataclass(frozen=True)
class SerialIntervals:
    pairs: int
    mean_days: float | None
    median_days: float | None
    q1_days: float | None
    q3_days: float | None
    values: tuple[int, ...]


def serial_intervals(edges: Iterable[Edge], onset: dict[int, date]) -> SerialIntervals:
    """Days from infector onset to infectee onset over edges whose both ends have an onset."""
    values = sorted(
        (onset[e.target] - onset[e.source]).days
        for e in edges
        if e.source in onset and e.target in onset
    )
    if not values:
        return SerialIntervals(0, None, None, None, None, ())
    if len(values) == 1:
        v = float(values[0])
        return SerialIntervals(1, v, v, v, v, tuple(values))
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return SerialIntervals(len(values), statistics.fmean(values), median, q1, q3, tuple(values))
