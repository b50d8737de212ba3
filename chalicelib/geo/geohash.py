"""Geohash cells: encode a point, and list the cells a bounding box covers at a precision.

Precision 5 (about 4.9 x 4.9 km at the equator) is the index default: a 10 km circle plus its
exit margin covers a few dozen cells, and one cell's fences are one DynamoDB Query.
"""

from __future__ import annotations

from chalicelib.geo.geometry import BBox

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
DEFAULT_PRECISION = 5


def _bits(precision: int) -> tuple[int, int]:
    total = 5 * precision
    return (total + 1) // 2, total // 2  # lon bits, lat bits


def _interleave(lon_index: int, lat_index: int, precision: int) -> str:
    lon_bits, lat_bits = _bits(precision)
    value = 0
    lon_i, lat_i = lon_bits - 1, lat_bits - 1
    for bit in range(5 * precision):
        if bit % 2 == 0:
            value = (value << 1) | ((lon_index >> lon_i) & 1)
            lon_i -= 1
        else:
            value = (value << 1) | ((lat_index >> lat_i) & 1)
            lat_i -= 1
    chars = []
    for _ in range(precision):
        chars.append(BASE32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _indices(lat: float, lon: float, precision: int) -> tuple[int, int]:
    lon_bits, lat_bits = _bits(precision)
    lon_cells, lat_cells = 1 << lon_bits, 1 << lat_bits
    lon_index = min(lon_cells - 1, max(0, int((lon + 180.0) / 360.0 * lon_cells)))
    lat_index = min(lat_cells - 1, max(0, int((lat + 90.0) / 180.0 * lat_cells)))
    return lon_index, lat_index


def encode(lat: float, lon: float, precision: int = DEFAULT_PRECISION) -> str:
    lon_index, lat_index = _indices(lat, lon, precision)
    return _interleave(lon_index, lat_index, precision)


def cell_count(box: BBox, precision: int = DEFAULT_PRECISION) -> int:
    _, lat_lo = _indices(box.south, 0.0, precision)
    _, lat_hi = _indices(box.north, 0.0, precision)
    cols = 0
    for west, east in box.lon_ranges:
        lon_lo, _ = _indices(0.0, west, precision)
        lon_hi, _ = _indices(0.0, east, precision)
        cols += lon_hi - lon_lo + 1
    return (lat_hi - lat_lo + 1) * cols


def covering(box: BBox, precision: int = DEFAULT_PRECISION) -> set[str]:
    """Every cell that intersects the box (its edges included)."""
    _, lat_lo = _indices(box.south, 0.0, precision)
    _, lat_hi = _indices(box.north, 0.0, precision)
    cells: set[str] = set()
    for west, east in box.lon_ranges:
        lon_lo, _ = _indices(0.0, west, precision)
        lon_hi, _ = _indices(0.0, east, precision)
        for lon_index in range(lon_lo, lon_hi + 1):
            for lat_index in range(lat_lo, lat_hi + 1):
                cells.add(_interleave(lon_index, lat_index, precision))
    return cells
