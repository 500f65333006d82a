"""Where the grids are: a deterministic map of the chosen divisions in WGS-84 degrees.

The division files carry no coordinates, so we lay the grids out ourselves: counties at their
approximate real centres when we know them (Xiamen) or on a spiral inside a city-sized box,
townships on a spiral around their county, grids on a spiral around their township. Urban grids
(below a 街道) are small and dense, rural ones larger. This is a plausible map, not a real one;
what matters for tracing is that distances are consistent, so that neighbours actually meet.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from epicore.divisions import (
    CITY,
    GRID,
    default_divisions_dir,
    read_with_generated,
)
from epicore.synth.config import STREAM_GEOGRAPHY, SynthConfig

KM_PER_DEG_LAT = 111.32  # mean length of one degree of latitude (WGS-84, rounded)

# Xiamen's extent (brief: roughly lat 24.40-24.75, lon 117.85-118.30; matches public maps).
XIAMEN_BOX = (24.40, 24.75, 117.85, 118.30)
# Approximate district centres read off public maps of Xiamen (assumption, +-2 km).
KNOWN_COUNTY_CENTRES: dict[str, tuple[float, float]] = {
    "350203": (24.468, 118.125),  # 思明区, south of Xiamen island
    "350205": (24.500, 117.990),  # 海沧区, west bank
    "350206": (24.520, 118.140),  # 湖里区, north of the island
    "350211": (24.600, 118.060),  # 集美区, north-west mainland
    "350212": (24.700, 118.150),  # 同安区, north (clipped to the box)
    "350213": (24.620, 118.250),  # 翔安区, north-east
}
# Resident population of Xiamen's districts, 7th national census 2020 (厦门市第七次全国人口普查
# 公报, rounded to thousands). Grid densities are rescaled so each district gets its share.
KNOWN_COUNTY_POPULATION: dict[str, int] = {
    "350203": 1_073_000,  # 思明区
    "350205": 583_000,  # 海沧区
    "350206": 1_037_000,  # 湖里区
    "350211": 1_036_000,  # 集美区
    "350212": 856_000,  # 同安区
    "350213": 579_000,  # 翔安区
}
KNOWN_BOXES = {"3502": XIAMEN_BOX}
# Approximate coordinates of the provincial capitals (public maps); other cities get a box of
# Xiamen's size near their capital. Plausible, not real.
PROVINCE_CAPITALS: dict[str, tuple[float, float]] = {
    "11": (39.90, 116.40), "12": (39.13, 117.20), "13": (38.04, 114.51), "14": (37.87, 112.55),
    "15": (40.84, 111.75), "21": (41.80, 123.43), "22": (43.82, 125.32), "23": (45.80, 126.53),
    "31": (31.23, 121.47), "32": (32.06, 118.80), "33": (30.27, 120.15), "34": (31.82, 117.23),
    "35": (26.07, 119.30), "36": (28.68, 115.86), "37": (36.65, 117.12), "41": (34.75, 113.62),
    "42": (30.59, 114.31), "43": (28.23, 112.94), "44": (23.13, 113.26), "45": (22.82, 108.37),
    "46": (20.04, 110.34), "50": (29.56, 106.55), "51": (30.57, 104.07), "52": (26.65, 106.63),
    "53": (25.04, 102.71), "54": (29.65, 91.13), "61": (34.34, 108.94), "62": (36.06, 103.83),
    "63": (36.62, 101.78), "64": (38.49, 106.23), "65": (43.83, 87.62),
}  # fmt: skip

# Spacing of grid centres. Assumption: a 网格 covers 300-500 households in cities (the usual
# grid-management guideline), a few hundred metres across; rural grids cover whole villages.
URBAN_GRID_SPACING_KM = 0.45
RURAL_GRID_SPACING_KM = 1.2
# Relative residential density. Assumption: sub-districts are ~3x denser than towns; farms,
# forest farms and development / bonded zones have few residents but many factories.
URBAN_DENSITY = 3.0
SPARSE_DENSITY = 0.3
DENSITY_SIGMA = 0.5  # lognormal spread of density between grids of one township (assumption)

_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


@dataclass(frozen=True)
class City:
    """Grids with coordinates and attributes, indexed 0..G-1 in code order."""

    codes: np.ndarray  # (G,) str, 15-digit grid codes
    county_codes: np.ndarray  # (G,) str, 6-digit county codes
    county_names: np.ndarray  # (G,) str
    township_names: np.ndarray  # (G,) str
    community_names: np.ndarray  # (G,) str
    city_name: str
    lat: np.ndarray  # (G,) grid centre, degrees
    lon: np.ndarray
    half_km: np.ndarray  # (G,) half side of the grid cell, km
    urban: np.ndarray  # (G,) bool, below a 街道
    industrial: np.ndarray  # (G,) bool, development / bonded / port zone
    density: np.ndarray  # (G,) relative residential weight (sums to 1)
    bbox: tuple[float, float, float, float]  # lat_min, lat_max, lon_min, lon_max

    @property
    def size(self) -> int:
        return len(self.codes)

    def xy_km(self) -> np.ndarray:
        """Planar (x, y) km of the grid centres; equirectangular is exact enough for a city."""
        return to_xy_km(self.lat, self.lon, self.bbox)


def to_xy_km(lat: np.ndarray, lon: np.ndarray, bbox: tuple[float, float, float, float]):
    lat0 = 0.5 * (bbox[0] + bbox[1])
    x = (lon - bbox[2]) * KM_PER_DEG_LAT * np.cos(np.radians(lat0))
    y = (lat - bbox[0]) * KM_PER_DEG_LAT
    return np.stack([x, y], axis=1)


def km_to_deg(lat: np.ndarray | float, dx_km, dy_km):
    """Offsets in km to (dlat, dlon) degrees at latitude `lat`."""
    return dy_km / KM_PER_DEG_LAT, dx_km / (KM_PER_DEG_LAT * np.cos(np.radians(lat)))


def _spiral(n: int, spacing_km: float) -> np.ndarray:
    """n points of a Vogel (sunflower) spiral, one per spacing^2: compact and non-overlapping."""
    k = np.arange(n) + 0.5
    r = spacing_km / np.sqrt(np.pi) * np.sqrt(k)
    theta = k * _GOLDEN_ANGLE
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _box_for(root: str) -> tuple[float, float, float, float]:
    if root[:4] in KNOWN_BOXES:
        return KNOWN_BOXES[root[:4]]
    lat, lon = PROVINCE_CAPITALS.get(root[:2], (30.0, 114.0))
    # Spread the cities of one province around its capital (deterministic, plausible only).
    city = int(root[2:4] or "1")
    angle = city * _GOLDEN_ANGLE
    reach = 0.0 if city <= 1 else 0.8
    lat += reach * np.sin(angle)
    lon += reach * np.cos(angle)
    h_lat, h_lon = (XIAMEN_BOX[1] - XIAMEN_BOX[0]) / 2, (XIAMEN_BOX[3] - XIAMEN_BOX[2]) / 2
    return (lat - h_lat, lat + h_lat, lon - h_lon, lon + h_lon)


def _is_urban(name: str) -> bool:
    # Same rule as epicore.divisions: sub-districts (街道/办事处) hold residents' communities.
    return name.endswith("街道") or name.endswith("办事处")


def _is_sparse(name: str) -> bool:
    return any(
        word in name for word in ("农场", "林场", "种猪场", "开发区", "保税", "港区", "工业")
    )


def _is_industrial(name: str) -> bool:
    return any(word in name for word in ("开发区", "保税", "港区", "工业", "高新"))


@functools.lru_cache(maxsize=8)
def _build_city(roots: tuple[str, ...], directory: str, seed: int) -> City:
    divisions = list(read_with_generated(Path(directory), roots))
    by_code = {d.code: d for d in divisions}
    grids = sorted(
        (d for d in divisions if d.level == GRID and any(d.code.startswith(r) for r in roots)),
        key=lambda d: d.code,
    )
    if not grids:
        raise ValueError(f"no grids found under roots {roots!r} in {directory}")
    cities = [d for d in divisions if d.level == CITY]
    city_name = next((c.name for c in cities if roots[0].startswith(c.code)), "")
    if city_name in ("", "市辖区", "县"):
        province = next((d.name for d in divisions if d.code == roots[0][:2]), "")
        city_name = province or city_name
    rng = np.random.default_rng(np.random.SeedSequence([seed, STREAM_GEOGRAPHY]))

    # Group townships by county and counties by box.
    townships: dict[str, list[str]] = {}
    grids_of: dict[str, list[int]] = {}
    for i, g in enumerate(grids):
        township = g.code[:9]
        grids_of.setdefault(township, []).append(i)
    for township in sorted(grids_of):
        townships.setdefault(township[:6], []).append(township)
    boxes: dict[tuple[float, float, float, float], list[str]] = {}
    for county in sorted(townships):
        root = next(r for r in roots if county.startswith(r) or r.startswith(county))
        boxes.setdefault(_box_for(root), []).append(county)

    n = len(grids)
    lat = np.zeros(n)
    lon = np.zeros(n)
    half = np.zeros(n)
    for box, counties in boxes.items():
        centres = _county_centres(box, counties)
        for county, (c_lat, c_lon) in zip(counties, centres, strict=True):
            _place_county(
                county, c_lat, c_lon, townships[county], grids_of, by_code, lat, lon, half
            )
    # A little jitter so grid centres are not on perfect spirals.
    d_lat, d_lon = km_to_deg(lat, rng.normal(0, 0.1, n) * half, rng.normal(0, 0.1, n) * half)
    lat += d_lat
    lon += d_lon
    bbox = (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    # Keep each whole cell inside the box.
    m_lat, m_lon = km_to_deg(lat, half, half)
    lat = np.clip(lat, bbox[0] + m_lat, bbox[1] - m_lat)
    lon = np.clip(lon, bbox[2] + m_lon, bbox[3] - m_lon)

    t_names = [by_code[g.code[:9]].name for g in grids]
    urban = np.array([_is_urban(t) for t in t_names])
    sparse = np.array([_is_sparse(t) for t in t_names])
    industrial = np.array([_is_industrial(t) for t in t_names])
    density = np.where(urban, URBAN_DENSITY, 1.0) * np.where(sparse, SPARSE_DENSITY, 1.0)
    density = density * rng.lognormal(0.0, DENSITY_SIGMA, n)
    county_codes = np.array([g.code[:6] for g in grids])
    density = _rescale_known_counties(density, county_codes)
    return City(
        codes=np.array([g.code for g in grids]),
        county_codes=county_codes,
        county_names=np.array([by_code[g.code[:6]].name for g in grids]),
        township_names=np.array(t_names),
        community_names=np.array([by_code[g.code[:12]].name for g in grids]),
        city_name=city_name,
        lat=lat,
        lon=lon,
        half_km=half,
        urban=urban,
        industrial=industrial,
        density=density / density.sum(),
        bbox=(float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])),
    )


def _rescale_known_counties(density: np.ndarray, county_codes: np.ndarray) -> np.ndarray:
    """Give counties with a census population their share of the known counties' weight."""
    known = [c for c in np.unique(county_codes) if c in KNOWN_COUNTY_POPULATION]
    if not known:
        return density
    density = density.copy()
    masks = {c: county_codes == c for c in known}
    known_weight = sum(density[m].sum() for m in masks.values())
    known_pop = sum(KNOWN_COUNTY_POPULATION[c] for c in known)
    for county, mask in masks.items():
        share = KNOWN_COUNTY_POPULATION[county] / known_pop
        density[mask] *= share * known_weight / density[mask].sum()
    return density


def _county_centres(box, counties: list[str]) -> list[tuple[float, float]]:
    """Known centres where we have them, otherwise a spiral filling the box."""
    c_lat, c_lon = (box[0] + box[1]) / 2, (box[2] + box[3]) / 2
    side_km = (box[1] - box[0]) * KM_PER_DEG_LAT
    spiral = _spiral(len(counties), 0.8 * side_km / np.sqrt(max(len(counties), 1)))
    out = []
    for county, (dx, dy) in zip(counties, spiral, strict=True):
        known = KNOWN_COUNTY_CENTRES.get(county)
        if known and box[0] <= known[0] <= box[1] and box[2] <= known[1] <= box[3]:
            out.append(known)
        else:
            d_lat, d_lon = km_to_deg(c_lat, dx, dy)
            out.append((c_lat + d_lat, c_lon + d_lon))
    return out


def _place_county(county, c_lat, c_lon, townships, grids_of, by_code, lat, lon, half) -> None:
    """Townships on a spiral around the county centre, grids on a spiral around each township."""
    spacings = [
        URBAN_GRID_SPACING_KM if _is_urban(by_code[t].name) else RURAL_GRID_SPACING_KM
        for t in townships
    ]
    radii = [
        s * np.sqrt(len(grids_of[t]) / np.pi) for t, s in zip(townships, spacings, strict=True)
    ]
    centres = _spiral(len(townships), 2.0 * float(np.mean(radii)) * np.sqrt(np.pi) * 0.9)
    for township, spacing, (tx, ty) in zip(townships, spacings, centres, strict=True):
        idx = np.array(grids_of[township])
        offsets = _spiral(len(idx), spacing)
        d_lat, d_lon = km_to_deg(c_lat, tx + offsets[:, 0], ty + offsets[:, 1])
        lat[idx] = c_lat + d_lat
        lon[idx] = c_lon + d_lon
        half[idx] = spacing / 2


def build_city(cfg: SynthConfig) -> City:
    """The grids under cfg.roots with coordinates (cached: venues, people and days share it)."""
    directory = cfg.divisions_dir or default_divisions_dir()
    roots = tuple(sorted(set(cfg.roots)))
    # Grids are generated with the platform's default seed so codes match the loaded divisions;
    # cfg.seed only moves the map's jitter and densities.
    return _build_city(roots, str(directory), cfg.seed)


def all_county_codes(cfg: SynthConfig) -> np.ndarray:
    """Every real county code in China (for migrants' ID numbers)."""
    directory = cfg.divisions_dir or default_divisions_dir()
    return _all_counties(str(directory))


@functools.lru_cache(maxsize=2)
def _all_counties(directory: str) -> np.ndarray:
    # Read areas.csv alone: the full reader would also parse 41 k townships we do not need.
    with open(Path(directory) / "areas.csv", encoding="utf-8", newline="") as handle:
        codes = [row["code"].strip() for row in csv.DictReader(handle)]
    return np.array(sorted(c for c in codes if c.isdigit() and len(c) == 6))


__all__ = ["City", "all_county_codes", "build_city", "km_to_deg", "to_xy_km"]
