from hypothesis import given, settings
from hypothesis import strategies as st

from epicore.placement import Person, Room, Site, check, distance_km, place

SITES = [
    Site(1, "350203", 24.45, 118.08),
    Site(2, "350206", 24.51, 118.14),
    Site(3, "350203", 24.6, 118.3),
]


def test_own_county_first_then_nearest():
    people = [
        Person(10, "close", "350203", 24.46, 118.09),
        Person(11, "close", "350206", 24.5, 118.13),
    ]
    rooms = [Room(100, 1), Room(200, 2), Room(300, 3)]
    placed, unplaced = place(people, rooms, SITES)
    assert {p.person_id: p.site_id for p in placed} == {10: 1, 11: 2}
    assert unplaced == []


def test_a_declared_group_shares_one_big_enough_room_and_categories_never_mix():
    people = [
        Person(1, "close", "350203", group="family-1"),
        Person(2, "close", "350203", group="family-1"),
        Person(3, "secondary", "350203"),
    ]
    rooms = [Room(100, 1, beds=1), Room(101, 1, beds=2)]
    placed, unplaced = place(people, rooms, SITES)
    assert {p.person_id: p.room_id for p in placed} == {1: 101, 2: 101, 3: 100}
    assert check(placed, people, rooms) == []


def test_people_who_cannot_be_placed_are_reported_with_the_reason():
    people = [
        Person(1, "close", "350203", group="g"),
        Person(2, "close", "350203", group="g"),
        Person(3, "close", "350203"),
    ]
    placed, unplaced = place(people, [Room(100, 1)], SITES)
    assert [p.person_id for p in placed] == [3]  # the pair needs a 2-bed room: none exists
    reasons = {u.person_id: u.reason for u in unplaced}
    assert reasons[1] == reasons[2] == "group_too_large"


def test_distance_is_a_great_circle():
    assert 111 < distance_km(0, 0, 1, 0) < 111.4  # one degree of latitude


people_strategy = st.lists(
    st.builds(
        Person,
        person_id=st.integers(1, 10_000),
        category=st.sampled_from(["close", "secondary", "inbound"]),
        county=st.sampled_from(["350203", "350206", "350211"]),
        lat=st.floats(24.3, 24.7),
        lon=st.floats(117.9, 118.3),
        group=st.sampled_from(["", "", "", "a", "b"]),
    ),
    max_size=40,
    unique_by=lambda p: p.person_id,
)


@settings(max_examples=80, deadline=None)
@given(people_strategy, st.lists(st.integers(1, 3), min_size=0, max_size=40))
def test_any_placement_honours_every_constraint_and_accounts_for_everyone(people, beds):
    rooms = [Room(i, SITES[i % 3].site_id, b) for i, b in enumerate(beds)]
    placed, unplaced = place(people, rooms, SITES)
    assert check(placed, people, rooms) == []
    assert {p.person_id for p in placed} | {u.person_id for u in unplaced} == {
        p.person_id for p in people
    }
