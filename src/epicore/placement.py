"""Placing people in quarantine rooms (一人一间): constraints first, then closeness.

Rules (《新型冠状病毒肺炎防控方案（第九版）》 附件 集中隔离场所工作指南, 2022-06):
- one person per room (单人单间), except declared groups that may share: a child with a guardian,
  an elderly or disabled person with a carer (同住 exceptions of the same guide);
- categories are never mixed in a room, and a group shares one room with its own category;
- prefer a site in the person's own jurisdiction (county), then the nearest site;
- a site's rooms are filled before opening a farther one only if it is in the same county
  (keeps transfers short and lets far sites stay in reserve).
Greedy per group in a stable order is enough here: rooms are interchangeable inside a site, so
the only choice is the site, and a person's best site does not depend on the others' choices
except through capacity, which the order resolves deterministically. Unplaced people are
reported with the reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius, IUGG


@dataclass(frozen=True)
class Person:
    person_id: int
    category: str  # e.g. close / secondary / inbound
    county: str  # 6-digit GB/T 2260 code of where they are now
    lat: float | None = None
    lon: float | None = None
    group: str = ""  # people with the same group id may share a room (declared exceptions)


@dataclass(frozen=True)
class Room:
    room_id: int
    site_id: int
    beds: int = 1  # a room for a declared group may hold more than one


@dataclass(frozen=True)
class Site:
    site_id: int
    county: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Placement:
    person_id: int
    room_id: int
    site_id: int


@dataclass(frozen=True)
class Unplaced:
    person_id: int
    reason: str  # no_room / group_too_large


def distance_km(a_lat, a_lon, b_lat, b_lon) -> float:
    """Great-circle distance (haversine); unknown positions sort last."""
    if None in (a_lat, a_lon, b_lat, b_lon):
        return math.inf
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _groups(people: list[Person]) -> list[list[Person]]:
    """Declared groups stay together (and must share a category); everyone else alone."""
    grouped: dict[tuple[str, str], list[Person]] = defaultdict(list)
    alone = []
    for person in sorted(people, key=lambda p: p.person_id):
        if person.group:
            grouped[(person.group, person.category)].append(person)
        else:
            alone.append([person])
    return sorted(list(grouped.values()) + alone, key=lambda g: (-len(g), g[0].person_id))


def rooms_needed(people: list[Person]) -> dict[str, int]:
    """Rooms a set of people will take, by category: one per person, one per declared group."""
    needed: dict[str, int] = defaultdict(int)
    for group in _groups(people):
        needed[group[0].category] += 1
    return dict(needed)


class _SiteIndex:
    """Site coordinates as arrays: ordering all sites for one person is one vector operation."""

    def __init__(self, sites: dict[int, Site]) -> None:
        self.ids = np.array(sorted(sites), dtype=np.int64)
        ordered = [sites[i] for i in self.ids]
        self.county = np.array([s.county for s in ordered])
        self.lat = np.radians(np.array([np.nan if s.lat is None else s.lat for s in ordered]))
        self.lon = np.radians(np.array([np.nan if s.lon is None else s.lon for s in ordered]))

    def order(self, lead: Person) -> list[int]:
        """Own county first, then by great-circle distance (unknown positions last), then id."""
        if lead.lat is None or lead.lon is None:
            distance = np.full(len(self.ids), np.inf)
        else:
            p1, l1 = np.radians(lead.lat), np.radians(lead.lon)
            h = (
                np.sin((self.lat - p1) / 2) ** 2
                + np.cos(p1) * np.cos(self.lat) * np.sin((self.lon - l1) / 2) ** 2
            )
            distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
            distance = np.where(np.isnan(distance), np.inf, distance)
        other_county = (self.county != lead.county).astype(np.int8)
        keys = np.lexsort((self.ids, distance, other_county))
        return self.ids[keys].tolist()


def place(people: list[Person], rooms: list[Room], sites: list[Site]):
    """(placements, unplaced). Each room receives one group (or one person) at most."""
    index = _SiteIndex({s.site_id: s for s in sites})
    free: dict[int, list[Room]] = defaultdict(list)
    for room in sorted(rooms, key=lambda r: (r.site_id, r.beds, r.room_id)):
        free[room.site_id].append(room)
    placements: list[Placement] = []
    unplaced: list[Unplaced] = []
    for group in _groups(people):
        room = _take_room(group, free, index)
        if room is None:
            reason = (
                "group_too_large" if len(group) > 1 and _no_big_room(group, rooms) else "no_room"
            )
            unplaced += [Unplaced(p.person_id, reason) for p in group]
            continue
        placements += [Placement(p.person_id, room.room_id, room.site_id) for p in group]
    return placements, unplaced


def _take_room(group: list[Person], free, index: _SiteIndex) -> Room | None:
    for site_id in index.order(group[0]):
        rooms = free.get(site_id)
        if not rooms:
            continue
        for position, room in enumerate(rooms):
            if room.beds >= len(group):
                return rooms.pop(position)  # the smallest room that fits (sorted by beds)
    return None


def _no_big_room(group: list[Person], rooms: list[Room]) -> bool:
    return all(room.beds < len(group) for room in rooms)


def check(placements: list[Placement], people: list[Person], rooms: list[Room]) -> list[str]:
    """Every violated constraint, in words (empty when the placement is valid)."""
    problems = []
    beds = {r.room_id: r.beds for r in rooms}
    by_person = {p.person_id: p for p in people}
    occupants: dict[int, list[Person]] = defaultdict(list)
    for placement in placements:
        occupants[placement.room_id].append(by_person[placement.person_id])
    seen = [p.person_id for p in placements]
    if len(seen) != len(set(seen)):
        problems.append("a person is placed twice")
    for room_id, members in occupants.items():
        if len(members) > beds.get(room_id, 0):
            problems.append(f"room {room_id} holds {len(members)} for {beds.get(room_id)} beds")
        if len({m.category for m in members}) > 1:
            problems.append(f"room {room_id} mixes categories")
        if len(members) > 1 and (len({m.group for m in members}) > 1 or not members[0].group):
            problems.append(f"room {room_id} is shared by people not in one declared group")
    return problems
