"""``python -m cli stores import FILE``: bulk import of stores and their geofences.

CSV with the header ``id,name,lat,lon,radius_m,timezone,opening_hours`` (optional
``dwell_seconds``), or GeoJSON (a FeatureCollection; a Point feature needs
``properties.radius_m``, Polygon and MultiPolygon are taken as drawn; ``properties`` carry
``id``/``store_id``, ``name``, ``timezone``, ``opening_hours``). Every row is validated like
``POST /admin/stores``; valid rows are written in chunks (BatchWriteItem, 25 requests a call,
unprocessed items retried), a progress bar shows how far it got, and the summary lists every
rejected row with its reasons. Exit code 1 if any row was rejected.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

CHUNK = 500  # stores per write call of the repository (it batches by 25 itself)


def add_parser(commands: Any) -> None:
    stores = commands.add_parser("stores", help="stores and their geofences")
    sub = stores.add_subparsers(dest="stores_command", metavar="COMMAND", required=True)
    imp = sub.add_parser("import", help="bulk import from CSV or GeoJSON")
    imp.add_argument("file", help="a .csv or .geojson/.json file")
    imp.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    imp.add_argument("--show", type=int, default=50, help="rejected rows to list (default 50)")
    imp.set_defaults(run=run_import)


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for n, row in enumerate(csv.DictReader(handle), start=2):
            body: dict[str, Any] = {
                "store_id": (row.get("id") or row.get("store_id") or "").strip(),
                "name": (row.get("name") or "").strip(),
                "lat": row.get("lat"),
                "lon": row.get("lon"),
                "radius_m": row.get("radius_m"),
                "timezone": (row.get("timezone") or "").strip(),
                "opening_hours": (row.get("opening_hours") or "").strip() or None,
            }
            if row.get("dwell_seconds"):
                body["dwell_seconds"] = row["dwell_seconds"]
            yield f"line {n}", body


def _geojson_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    features = data.get("features", []) if data.get("type") == "FeatureCollection" else [data]
    for n, feature in enumerate(features):
        props = dict(feature.get("properties") or {})
        geometry = feature.get("geometry") or {}
        body: dict[str, Any] = {
            "store_id": str(props.pop("id", None) or props.pop("store_id", None) or feature.get("id") or ""),
            **{k: props.get(k) for k in ("name", "timezone", "opening_hours", "dwell_seconds") if k in props},
        }
        if geometry.get("type") == "Point":
            coords = geometry.get("coordinates") or [None, None]
            body.update(
                lon=coords[0], lat=coords[1] if len(coords) > 1 else None, radius_m=props.get("radius_m")
            )
        else:
            body["geometry"] = geometry
        yield f"feature {n}", body


def _progress(out: TextIO, done: int, total: int, started: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.monotonic() - started, 1e-6)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows  {rate:,.0f}/s")
    out.flush()


def run_import(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    from chalicelib.domain.errors import InvalidInput
    from chalicelib.use_cases.stores import parse_store

    path = Path(args.file)
    if not path.is_file():
        out.write(f"no such file: {path}\n")
        return 1
    suffix = path.suffix.lower()
    rows = list(_csv_rows(path) if suffix == ".csv" else _geojson_rows(path))
    if container is None:
        from cli.local_stack import NoLocalStack, connect, from_environment

        try:
            container = from_environment() if args.use_env else connect(Path(args.state_file))
        except NoLocalStack as exc:
            out.write(f"{exc}\n")
            return 3
    admin = container.store_admin
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    chunk: list[tuple[dict[str, Any], Any]] = []
    written = 0
    started = time.monotonic()
    progress = sys.stderr if out is sys.stdout else out
    for n, (where, body) in enumerate(rows, start=1):
        try:
            record, fence = parse_store(body)
            if record["store_id"] in seen:
                raise InvalidInput([], f"store_id: {record['store_id']!r} appears earlier in the file")
            seen.add(record["store_id"])
            chunk.append((record, fence))
        except InvalidInput as exc:
            reasons = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.message
            rejected.append((where, reasons))
        if len(chunk) >= CHUNK or (n == len(rows) and chunk):
            if not args.dry_run:
                admin.import_rows(chunk)
            written += len(chunk)
            chunk = []
        if n % 1000 == 0 or n == len(rows):
            _progress(progress, n, len(rows), started)
    progress.write("\n")
    verb = "validated" if args.dry_run else "imported"
    out.write(
        f"{verb} {written} store(s), rejected {len(rejected)} of {len(rows)} row(s) in {time.monotonic() - started:.1f}s\n"
    )
    for where, reasons in rejected[: args.show]:
        out.write(f"  {where}: {reasons}\n")
    if len(rejected) > args.show:
        out.write(f"  ... and {len(rejected) - args.show} more (--show N to list them)\n")
    return 1 if rejected else 0
