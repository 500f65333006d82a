from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from epicore import divisions
from epicore.divisions import default_divisions_dir, read_divisions, read_with_generated


def test_whole_country_has_every_level():
    counts = Counter(d.level for d in read_divisions(default_divisions_dir()))
    assert counts == {"province": 31, "city": 342, "county": 2978, "township": 41352}


def test_subset_keeps_ancestors_and_parents_come_first():
    rows = list(read_with_generated(default_divisions_dir(), ["350203"]))
    codes = [r.code for r in rows]
    assert codes[:3] == ["35", "3502", "350203"]
    seen = set()
    for row in rows:
        assert row.parent_code is None or row.parent_code in seen
        assert row.parent_code is None or row.code.startswith(row.parent_code)
        assert divisions.level_of(row.code) == row.level
        seen.add(row.code)
    assert not any(c.startswith("350206") for c in codes)  # a sibling county is not loaded


def test_generated_children_do_not_depend_on_the_subset():
    alone = [d for d in read_with_generated(default_divisions_dir(), ["350203001"])]
    inside = [
        d
        for d in read_with_generated(default_divisions_dir(), ["3502"])
        if d.code.startswith("350203001")
    ]
    assert [d for d in alone if d.code.startswith("350203001")] == inside


def test_villages_under_towns_and_communities_under_subdistricts():
    rows = {d.code: d for d in read_with_generated(default_divisions_dir(), ["3502"])}
    for row in rows.values():
        if row.level == "community":
            township = rows[row.parent_code]
            assert row.name.endswith("社区" if township.name.endswith("街道") else ("村", "社区"))


codes = st.from_regex(r"[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15}", fullmatch=True)


@given(codes, codes)
def test_subtree_bounds_match_prefixes(root, other):
    low, high = divisions.subtree_bounds(root)
    inside = low <= other and (high is None or other < high)
    assert inside == other.startswith(root)
