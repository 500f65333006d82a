"""Administrative divisions: read GB/T 2260 and township codes, generate communities and grids.

The source files (`shared/data/divisions/`) stop at townships (乡镇/街道, 9 digits). Below them we
generate communities or villages (社区/村, 12 digits: township + 3, the shape of the statistical
village codes) and grids (网格, 15 digits: community + 3), deterministically from the code, so a
subset loaded twice, or loaded alone or inside its province, gets the same children.

Every code starts with its parent's code, so a code is its own materialized path: a subtree is
the range of codes that start with the root's code (see `subtree_bounds`).
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROVINCE, CITY, COUNTY, TOWNSHIP, COMMUNITY, GRID = (
    "province",
    "city",
    "county",
    "township",
    "community",
    "grid",
)
LEVELS = (PROVINCE, CITY, COUNTY, TOWNSHIP, COMMUNITY, GRID)
CODE_LENGTHS = {PROVINCE: 2, CITY: 4, COUNTY: 6, TOWNSHIP: 9, COMMUNITY: 12, GRID: 15}
LEVEL_BY_LENGTH = {length: level for level, length in CODE_LENGTHS.items()}

_FILES = (
    (PROVINCE, "provinces.csv", None),
    (CITY, "cities.csv", "provinceCode"),
    (COUNTY, "areas.csv", "cityCode"),
    (TOWNSHIP, "streets.csv", "areaCode"),
)


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    parent_code: str | None


def level_of(code: str) -> str | None:
    return LEVEL_BY_LENGTH.get(len(code)) if code.isascii() and code.isdigit() else None


def parent_code_of(code: str) -> str | None:
    index = LEVELS.index(level_of(code) or PROVINCE)
    return code[: CODE_LENGTHS[LEVELS[index - 1]]] if index else None


def subtree_bounds(code: str) -> tuple[str, str | None]:
    """[low, high) such that low <= c < high exactly when c starts with `code`.

    A plain range works with every B-tree index and collation (all codes are ASCII digits),
    unlike LIKE 'prefix%' which needs special operator classes or collations to use an index.
    """
    stripped = code.rstrip("9")
    if not stripped:
        return code, None
    return code, stripped[:-1] + str(int(stripped[-1]) + 1)


def read_divisions(directory: Path, roots: Iterable[str] = ()) -> Iterator[Division]:
    """Divisions from the CSV files, parents before children, limited to the subtrees of `roots`.

    With no roots, the whole country. A root may be any code (province, city, county, township);
    its ancestors are included too so the tree stays connected.
    """
    wanted = [r for r in roots if r]
    for level, filename, parent_column in _FILES:
        with open(Path(directory) / filename, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code = row["code"].strip()
                if wanted and not any(code.startswith(r) or r.startswith(code) for r in wanted):
                    continue
                parent = row[parent_column].strip() if parent_column else None
                yield Division(code=code, name=row["name"].strip(), level=level, parent_code=parent)


def _is_urban(township_name: str) -> bool:
    # Sub-districts (街道) contain residents' communities (社区); towns and townships (镇/乡) villages (村).
    return township_name.endswith("街道") or township_name.endswith("办事处")


def generate_below(
    township: Division,
    seed: int = 0,
    communities: tuple[int, int] = (3, 8),
    grids: tuple[int, int] = (2, 5),
) -> Iterator[Division]:
    """Generated communities/villages below a township and grids below each (parents first)."""
    rng = random.Random(f"{seed}:{township.code}")
    kind = "社区" if _is_urban(township.name) else "村"
    for i in range(1, rng.randint(*communities) + 1):
        community_code = f"{township.code}{i:03d}"
        yield Division(community_code, f"{_place_name(rng)}{kind}", COMMUNITY, township.code)
        for j in range(1, rng.randint(*grids) + 1):
            yield Division(f"{community_code}{j:03d}", f"第{j}网格", GRID, community_code)


_NAME_PARTS = "东西南北中新安和平福兴华康宁丰祥瑞光明阳春秋山水湖海林桥岭溪塘湾岗园"


def _place_name(rng: random.Random) -> str:
    return rng.choice(_NAME_PARTS) + rng.choice(_NAME_PARTS)


def read_with_generated(
    directory: Path,
    roots: Iterable[str] = (),
    seed: int = 0,
    communities: tuple[int, int] = (3, 8),
    grids: tuple[int, int] = (2, 5),
) -> Iterator[Division]:
    """The real divisions under `roots` and, below each township, generated communities and grids."""
    for division in read_divisions(directory, roots):
        yield division
        if division.level == TOWNSHIP:
            yield from generate_below(division, seed, communities, grids)


def default_divisions_dir() -> Path:
    """FANGKONG_DIVISIONS when set, else the copy shipped in the package.

    The package carries the files (1.7 MB, WTFPL, see data/divisions/LICENSE) so a fresh
    install works anywhere; a deployment points FANGKONG_DIVISIONS at a newer edition.
    """
    env = os.environ.get("FANGKONG_DIVISIONS")
    return Path(env) if env else Path(__file__).resolve().parent / "data" / "divisions"
