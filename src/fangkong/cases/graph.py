"""The transmission graph of the cases and contacts a user may see (epicore.graph does the maths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from epicore import graph as engine
from epicore import idcard
from fangkong.cases.models import Case, Classification, Exposure
from fangkong.cases.queries import access_cases, access_contacts

MAX_NODES = 400  # beyond this a drawing is unreadable; the numbers still count everything
COLUMN_WIDTH, ROW_HEIGHT, MARGIN = 170, 26, 20


@dataclass
class Node:
    person_id: int
    label: str
    kind: str  # case / close / secondary / companion
    generation: int = 0
    cluster: int = 0
    x: int = 0
    y: int = 0


@dataclass
class Graph:
    nodes: dict[int, Node] = field(default_factory=dict)
    edges: list[engine.Edge] = field(default_factory=list)
    intervals: engine.SerialIntervals | None = None
    cluster_sizes: dict[int, int] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    truncated: bool = False


KIND_OF_DEGREE = {1: "close", 2: "secondary", 3: "companion"}


def build(user, since: date | None = None, until: date | None = None, cluster: int | None = None):
    cases = (
        access_cases(user).exclude(classification=Classification.EXCLUDED).select_related("person")
    )
    if since:
        cases = cases.filter(reported_at__date__gte=since)
    if until:
        cases = cases.filter(reported_at__date__lte=until)
    cases = list(cases[:5000])
    result = Graph()
    for case in cases:
        result.nodes[case.person_id] = Node(
            case.person_id, f"{case.number} {idcard.mask_name(case.person.name)}", "case"
        )
    contacts = access_contacts(user).filter(case__in=cases).select_related("person")
    for contact in contacts[:20000]:
        result.nodes.setdefault(
            contact.person_id,
            Node(contact.person_id, str(contact.person), KIND_OF_DEGREE[contact.degree]),
        )
    visible = set(result.nodes)
    pairs = Exposure.objects.filter(contact__person_id__in=visible, via_person_id__in=visible)
    result.edges = sorted(
        {engine.Edge(s, t) for s, t in pairs.values_list("via_person_id", "contact__person_id")},
        key=lambda e: (e.source, e.target),
    )
    _analyse(result, cases)
    if cluster:
        _keep_cluster(result, cluster)
    _layout(result)
    return result


def _analyse(result: Graph, cases: list[Case]) -> None:
    depth = engine.generations(result.nodes, result.edges)
    groups = engine.clusters(result.nodes, result.edges)
    for person_id, node in result.nodes.items():
        node.generation, node.cluster = depth[person_id], groups[person_id]
        result.cluster_sizes[node.cluster] = result.cluster_sizes.get(node.cluster, 0) + 1
    onset = {c.person_id: c.onset_date for c in cases if c.onset_date}
    case_people = {c.person_id for c in cases}
    case_edges = [e for e in result.edges if e.source in case_people and e.target in case_people]
    result.intervals = engine.serial_intervals(case_edges, onset)


def _keep_cluster(result: Graph, cluster: int) -> None:
    result.nodes = {p: n for p, n in result.nodes.items() if n.cluster == cluster}
    result.edges = [
        e for e in result.edges if e.source in result.nodes and e.target in result.nodes
    ]


def _layout(result: Graph) -> None:
    """Generations left to right; within one, by cluster then person."""
    ordered = sorted(result.nodes.values(), key=lambda n: (n.generation, n.cluster, n.person_id))
    if len(ordered) > MAX_NODES:
        result.truncated = True
        keep = {n.person_id for n in ordered[:MAX_NODES]}
        result.nodes = {p: n for p, n in result.nodes.items() if p in keep}
        result.edges = [e for e in result.edges if e.source in keep and e.target in keep]
        ordered = ordered[:MAX_NODES]
    rows: dict[int, int] = {}
    for node in ordered:
        row = rows.get(node.generation, 0)
        rows[node.generation] = row + 1
        node.x = MARGIN + node.generation * COLUMN_WIDTH
        node.y = MARGIN + row * ROW_HEIGHT
    result.width = MARGIN * 2 + (max(rows, default=0) + 1) * COLUMN_WIDTH
    result.height = MARGIN * 2 + max(rows.values(), default=1) * ROW_HEIGHT
