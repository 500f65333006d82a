from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from epicore.graph import Edge, clusters, generations, serial_intervals


def test_generations_follow_the_shortest_chain():
    edges = [Edge(1, 2), Edge(2, 3), Edge(1, 3), Edge(3, 4), Edge(10, 11)]
    assert generations([1, 2, 3, 4, 10, 11, 20], edges) == {
        1: 0, 2: 1, 3: 1, 4: 2, 10: 0, 11: 1, 20: 0,
    }  # fmt: skip


def test_a_cycle_without_a_root_still_gets_generations():
    depth = generations([5, 6], [Edge(5, 6), Edge(6, 5)])
    assert sorted(depth.values()) == [0, 1]


def test_clusters_are_numbered_by_size():
    edges = [Edge(1, 2), Edge(3, 4), Edge(4, 5)]
    assert clusters([1, 2, 3, 4, 5, 9], edges) == {3: 1, 4: 1, 5: 1, 1: 2, 2: 2, 9: 3}


def test_serial_intervals_over_linked_cases_with_onsets():
    onset = {1: date(2022, 3, 1), 2: date(2022, 3, 5), 3: date(2022, 3, 4), 4: date(2022, 3, 3)}
    result = serial_intervals([Edge(1, 2), Edge(1, 3), Edge(2, 4), Edge(1, 99)], onset)
    assert result.values == (-2, 3, 4)  # 4 fell ill before 2: presymptomatic transmission
    assert (result.pairs, result.median_days) == (3, 3)
    assert serial_intervals([], onset).pairs == 0


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60))
def test_every_edge_joins_one_cluster_and_generations_cover_all_nodes(pairs):
    edges = [Edge(a, b) for a, b in pairs if a != b]
    nodes = {n for e in edges for n in (e.source, e.target)}
    cluster = clusters(nodes, edges)
    assert all(cluster[e.source] == cluster[e.target] for e in edges)
    depth = generations(nodes, edges)
    assert set(depth) == nodes and all(d >= 0 for d in depth.values())
