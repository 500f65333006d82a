"""The 时空伴随 grid: WGS-84 coordinates to square cells of a fixed size in metres.

Cells must have the same area everywhere (800 m x 800 m means 0.64 km^2 at any latitude), so
coordinates are projected with the Lambert azimuthal equal-area projection on the WGS-84
ellipsoid (Snyder, "Map Projections: A Working Manual", USGS Professional Paper 1395, 1987,
pp. 182-190, the ellipsoidal oblique formulas), centred on the grid origin. The projection is
exactly equal-area; within a city (tens of km from the origin) its scale differs from 1 by less
than 1e-5 in each direction, so cells are 800 m squares to well under a metre. The same numpy
function serves every engine (Spark calls it through mapInArrow), so a ping on a cell border
falls in the same cell whichever engine runs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# WGS-84 semi-major axis and flattening (NIMA TR8350.2, 3rd edition, 2000).
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
E2 = WGS84_F * (2 - WGS84_F)
E = np.sqrt(E2)


def authalic_q(sin_lat: np.ndarray) -> np.ndarray:
    """Snyder's q (eq. 3-12), proportional to the area between the equator and the latitude."""
    es = E * sin_lat
    return (1 - E2) * (sin_lat / (1 - es * es) - np.log((1 - es) / (1 + es)) / (2 * E))


QP = float(authalic_q(np.array(1.0)))
RQ = WGS84_A * np.sqrt(QP / 2)  # radius of the sphere of equal area


def project(
    lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Metres east (x) and north (y) of `origin` (lat, lon), Lambert azimuthal equal-area."""
    lat0, lon0 = np.radians(origin[0]), np.radians(origin[1])
    beta = np.arcsin(authalic_q(np.sin(np.radians(lat))) / QP)
    beta0 = np.arcsin(authalic_q(np.sin(lat0)) / QP)
    dlon = np.radians(lon) - lon0
    m0 = np.cos(lat0) / np.sqrt(1 - E2 * np.sin(lat0) ** 2)
    d = m0 / (RQ / WGS84_A * np.cos(beta0))
    cos_c = np.sin(beta0) * np.sin(beta) + np.cos(beta0) * np.cos(beta) * np.cos(dlon)
    b = RQ * np.sqrt(2 / (1 + cos_c))
    x = b * d * np.cos(beta) * np.sin(dlon)
    y = (b / d) * (np.cos(beta0) * np.sin(beta) - np.sin(beta0) * np.cos(beta) * np.cos(dlon))
    return x, y


def cell_index(
    lat, lon, origin: tuple[float, float], cell_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of each point's cell; cell (0, 0) has the origin at its south-west corner."""
    x, y = project(np.asarray(lat, float), np.asarray(lon, float), origin)
    return np.floor(x / cell_m).astype(np.int64), np.floor(y / cell_m).astype(np.int64)


def cell_labels(lat, lon, origin: tuple[float, float], cell_m: float) -> pa.Array:
    """Cells as text "column:row", the form written in the output's `cell` column."""
    ix, iy = cell_index(lat, lon, origin, cell_m)
    return pc.binary_join_element_wise(
        pa.array(ix).cast(pa.string()), pa.array(iy).cast(pa.string()), ":"
    )


def default_origin(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """The pings' south-west corner rounded down to 0.1 degree: one data set, one grid."""
    if len(lat) == 0:
        return (0.0, 0.0)
    return (float(np.floor(np.min(lat) * 10) / 10), float(np.floor(np.min(lon) * 10) / 10))
