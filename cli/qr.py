"""``python -m cli qr ...``: QR codes for stores, from the command line.

make     create a code and write its PNG/SVG     image   write an existing code's PNG/SVG
sheet    a store's print sheet (HTML or SVG)     list    codes (by store, state, key)
show     one code                                update  change destination or label fields
revoke   the code answers 404 from now on        rotate  new id and token for a leaked label
stats    scans, unique visitors, hours, days and conversion, per code or per store
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from cli import Refused, command_group, guarded

# API field -> the option that sets it, so a refusal names what the user typed.
OPTION_OF = {
    "store_id": "--store",
    "store": "--store",
    "product_id": "--product",
    "placement": "--placement",
    "destination": "--destination",
    "visitor_param": "--visitor-param",
    "grace_hours": "--grace-hours",
    "format": "--format",
    "error": "--error-correction",
    "scale": "--scale",
    "border": "--border",
    "days": "--days",
    "to": "--to",
    "state": "--state",
    "kid": "--kid",
}
ERROR_HELP = "error correction: how much of the symbol may be damaged, L 7%%, M 15%%, Q 25%%, H 30%%"


def _bounded(low: int, high: int) -> Any:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def _image_options(parser: argparse.ArgumentParser, default_error: str = "M") -> None:
    parser.add_argument(
        "--out", help="file to write; its suffix (.png/.svg) picks the format (default QRID.png)"
    )
    parser.add_argument(
        "--format", choices=("png", "svg"), help="image format (default: from --out, else png)"
    )
    parser.add_argument(
        "--error-correction",
        choices=("L", "M", "Q", "H"),
        type=str.upper,
        default=default_error,
        help=f"{ERROR_HELP} (default {default_error})",
    )
    parser.add_argument(
        "--scale",
        type=_bounded(1, 50),
        default=10,
        help="pixels per module for PNG, units for SVG (default 10)",
    )
    parser.add_argument(
        "--border", type=_bounded(0, 16), default=4, help="quiet zone in modules around the code (default 4)"
    )
    parser.add_argument(
        "--no-compact",
        action="store_true",
        help="encode the URL exactly as given (byte mode) instead of the smaller mixed alphanumeric "
        "symbol with an uppercase scheme and host",
    )


def add_parser(commands: Any) -> None:
    sub = command_group(
        commands,
        "qr",
        "QR codes for stores: make, image, sheet, list, show, update, revoke, rotate, stats",
        __doc__,
    )

    make = sub.add_parser(
        "make",
        help="create a code and write its image",
        description="Create a signed QR code for a placement in a store and write its PNG or SVG. "
        "The destination must be https on an allowed domain (MM_QR_ALLOWED_DOMAINS); without "
        "--destination, MM_QR_DESTINATION_TEMPLATE and --product make one. The code can be "
        "repointed later without reprinting (qr update).",
    )
    make.add_argument("--store", required=True, help="the store's id, e.g. store-001")
    make.add_argument("--product", help="the product the code is for (optional)")
    make.add_argument(
        "--placement", help='where the label hangs, printed under the code, e.g. "aisle 4, top shelf"'
    )
    make.add_argument("--destination", help="the https URL the code opens")
    make.add_argument(
        "--visitor-param",
        help="add the visitor id to the destination under this query parameter (e.g. ajs_aid, "
        "so analytics.js on the landing page links the scan to the shopper)",
    )
    _image_options(make)
    make.set_defaults(run=_make)

    image = sub.add_parser(
        "image", help="write an existing code's PNG or SVG", description="Write a code's image."
    )
    image.add_argument("qr_id", metavar="ID", help="the code's id (8 characters)")
    _image_options(image)
    image.set_defaults(run=_image)

    sheet = sub.add_parser(
        "sheet",
        help="a store's print sheet",
        description="Every active code of a store with its placement label, on one printable page "
        "(HTML with inline SVGs, or one SVG). Print at 100%% scale.",
    )
    sheet.add_argument("--store", required=True, help="the store's id")
    sheet.add_argument("--out", required=True, help="file to write: .html or .svg")
    sheet.add_argument("--format", choices=("html", "svg"), help="default: from --out's suffix")
    sheet.add_argument(
        "--error-correction",
        choices=("L", "M", "Q", "H"),
        type=str.upper,
        default="Q",
        help=f"{ERROR_HELP} (default Q: shelf labels get scuffed)",
    )
    sheet.set_defaults(run=_sheet)

    listing = sub.add_parser("list", help="list codes", description="List QR codes, newest placement first.")
    listing.add_argument("--store", help="only this store's codes")
    listing.add_argument("--state", choices=("active", "rotated", "revoked"), help="only codes in this state")
    listing.add_argument("--kid", help="only codes printed with this signing key (before retiring it)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_list)

    show = sub.add_parser("show", help="one code", description="Show one code as JSON.")
    show.add_argument("qr_id", metavar="ID")
    show.set_defaults(run=_show)

    update = sub.add_parser(
        "update",
        help="change a code's destination or label fields",
        description="Change where a code sends shoppers (or its placement/product label). The "
        "printed code stays valid: it is a dynamic code.",
    )
    update.add_argument("qr_id", metavar="ID")
    update.add_argument("--destination", help="the new https URL")
    update.add_argument("--placement", help="the new placement label")
    update.add_argument("--product", help="the new product id")
    update.add_argument("--visitor-param", help="query parameter for the visitor id ('' to stop adding it)")
    update.set_defaults(run=_update)

    revoke = sub.add_parser(
        "revoke", help="revoke a code", description="The code answers the 404 page from now on."
    )
    revoke.add_argument("qr_id", metavar="ID")
    revoke.set_defaults(run=_revoke)

    rotate = sub.add_parser(
        "rotate",
        help="new id and token for a leaked or copied label",
        description="Give the code a new id and token (signed with the current key) and retire "
        "the old label after --grace-hours (default 0: at once). Analytics carry over.",
    )
    rotate.add_argument("qr_id", metavar="ID")
    rotate.add_argument(
        "--grace-hours", type=float, default=0, help="hours the old label keeps working (0-720)"
    )
    _image_options(rotate)
    rotate.set_defaults(run=_rotate)

    stats = sub.add_parser(
        "stats",
        help="scan analytics for a code or a store",
        description="Scans, unique visitors, redemptions and conversion, by hour of day and day of "
        "week (in the store's time zone). Give a code ID, or --store (and optionally --placement).",
    )
    stats.add_argument("qr_id", metavar="ID", nargs="?")
    stats.add_argument("--store", help="a store's analytics instead of one code's")
    stats.add_argument("--placement", help="with --store: only this placement's codes")
    stats.add_argument("--days", type=_bounded(1, 92), default=28, help="UTC days up to --to (default 28)")
    stats.add_argument("--to", help="last day, YYYY-MM-DD (default today, UTC)")
    stats.add_argument("--json", action="store_true", help="print the full JSON")
    stats.set_defaults(run=_stats)


# --- running --------------------------------------------------------------------------------


_guarded = guarded(OPTION_OF)


def _format(args: argparse.Namespace, kinds: tuple[str, ...]) -> str:
    if args.format:
        return str(args.format)
    if args.out:
        suffix = Path(args.out).suffix.lower().lstrip(".")
        if suffix in kinds:
            return suffix
        raise Refused(
            f"--out: cannot tell the format from {args.out!r}; use .{' or .'.join(kinds)} or --format"
        )
    return kinds[0]


def _write_image(container: Any, view: dict[str, Any], args: argparse.Namespace, out: TextIO) -> None:
    from chalicelib.qr_render import ImageOptions, symbol

    fmt = _format(args, ("png", "svg"))
    params = {
        "error": args.error_correction,
        "scale": str(args.scale),
        "border": str(args.border),
        "compact": "false" if args.no_compact else "true",
    }
    body, _ = container.qr_admin.image(view["qr_id"], fmt, params)
    path = Path(args.out or f"{view['qr_id']}.{fmt}")
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    options = ImageOptions(args.error_correction, args.scale, args.border, not args.no_compact)
    qr = symbol(view["url"], options)
    modules = qr.symbol_size(scale=1, border=0)[0]
    side = (modules + 2 * args.border) * args.scale
    print(
        f"wrote {path}: {fmt.upper()} {side} x {side}, QR version {qr.version} ({modules} x {modules} "
        f"modules), error correction {args.error_correction}",
        file=out,
    )


def _describe(view: dict[str, Any]) -> str:
    where = ", ".join(x for x in (view.get("placement"), view.get("product_id")) if x)
    return f"{view['qr_id']} at {view['store_id']}" + (f" ({where})" if where else "")


@_guarded
def _make(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    body: dict[str, Any] = {"store_id": args.store}
    for field, value in (
        ("product_id", args.product),
        ("placement", args.placement),
        ("destination", args.destination),
        ("visitor_param", args.visitor_param),
    ):
        if value is not None:
            body[field] = value
    _format(args, ("png", "svg"))  # refuse a bad --out before creating anything
    view = container.qr_admin.create(body)
    print(f"created QR code {_describe(view)}", file=out)
    print(f"  opens   {view['destination']}", file=out)
    print(f"  scan    {view['url']}  (signed with key {view['kid']})", file=out)
    _write_image(container, view, args, out)
    return 0


@_guarded
def _image(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    view = container.qr_admin.get(args.qr_id)
    if not view["scans_accepted"]:
        print(f"warning: {view['qr_id']} is {view['state']}: its code answers 404", file=out)
    _write_image(container, view, args, out)
    return 0


@_guarded
def _sheet(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    fmt = _format(args, ("html", "svg"))
    body, _ = container.qr_admin.sheet(args.store, fmt, args.error_correction)
    count = len([v for v in container.qr_admin.list_codes(args.store) if v["state"] == "active"])
    Path(args.out).write_text(body)
    print(
        f"{args.store}: {count} active code{'s' if count != 1 else ''} -> wrote {args.out} ({fmt.upper()})",
        file=out,
    )
    if count == 0:
        print("  (nothing to print: create codes with `python -m cli qr make --store ...`)", file=out)
    return 0


@_guarded
def _list(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    views = container.qr_admin.list_codes(args.store, args.state, args.kid)
    if args.json:
        print(json.dumps(views, indent=2), file=out)
        return 0
    rows = [
        (
            v["qr_id"],
            v["store_id"],
            v["state"],
            v["kid"],
            v.get("placement") or "",
            v.get("product_id") or "",
            v["destination"],
        )
        for v in views
    ]
    header = ("ID", "STORE", "STATE", "KEY", "PLACEMENT", "PRODUCT", "DESTINATION")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1], file=out
        )
    print(f"{len(rows)} code{'s' if len(rows) != 1 else ''}", file=out)
    return 0


@_guarded
def _show(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    print(json.dumps(container.qr_admin.get(args.qr_id), indent=2), file=out)
    return 0


@_guarded
def _update(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    body: dict[str, Any] = {}
    for field, value in (
        ("destination", args.destination),
        ("placement", args.placement),
        ("product_id", args.product),
        ("visitor_param", args.visitor_param),
    ):
        if value is not None:
            body[field] = value or None
    if not body:
        raise Refused("nothing to change: give --destination, --placement, --product or --visitor-param")
    view = container.qr_admin.update(args.qr_id, body)
    print(f"updated {_describe(view)}: opens {view['destination']} (the printed code is unchanged)", file=out)
    return 0


@_guarded
def _revoke(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    view = container.qr_admin.revoke(args.qr_id)
    print(f"revoked {_describe(view)}: its code now answers 404", file=out)
    return 0


@_guarded
def _rotate(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    _format(args, ("png", "svg"))
    view = container.qr_admin.rotate(args.qr_id, {"grace_hours": args.grace_hours})
    old = view["previous"]
    print(f"rotated {old['qr_id']} -> {_describe(view)}", file=out)
    print(f"  old label works until {old['retire_at']}; print the new one now", file=out)
    print(f"  scan    {view['url']}", file=out)
    _write_image(container, view, args, out)
    return 0


@_guarded
def _stats(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    if bool(args.qr_id) == bool(args.store):
        raise Refused("give either a code ID or --store")
    if args.placement is not None and not args.store:
        raise Refused("--placement needs --store")
    if args.qr_id:
        stats = container.qr_admin.stats(args.qr_id, args.days, args.to)
        title = f"{stats['qr_id']} at {stats['store_id']} ({stats.get('placement') or 'no placement'})"
    else:
        stats = container.qr_admin.store_stats(args.store, args.days, args.to, args.placement)
        title = f"store {args.store}" + (f", placement {args.placement!r}" if args.placement else "")
    if args.json:
        print(json.dumps(stats, indent=2), file=out)
        return 0
    rate = stats["conversion_rate"]
    print(f"{title}, {stats['from']} to {stats['to']} (hours in {stats['timezone']})", file=out)
    print(
        f"  scans {stats['scans']}, unique visitors {stats['unique_visitors']}, redemptions "
        f"{stats['redemptions']}, conversion {'-' if rate is None else f'{rate:.1%}'}",
        file=out,
    )
    busiest_hours = sorted((h for h in stats["by_hour_of_day"] if h["scans"]), key=lambda h: -h["scans"])[:3]
    busiest_days = sorted((d for d in stats["by_day_of_week"] if d["scans"]), key=lambda d: -d["scans"])[:3]
    if stats["scans"]:
        print(
            "  busiest hours " + ", ".join(f"{h['hour']:02d}:00 ({h['scans']})" for h in busiest_hours),
            file=out,
        )
        print("  busiest days  " + ", ".join(f"{d['day']} ({d['scans']})" for d in busiest_days), file=out)
    for code in [c for c in stats.get("codes", []) if isinstance(c, dict)]:
        print(
            f"  {code['qr_id']}  {code.get('placement') or '':<24} scans {code['scans']:<5} unique "
            f"{code['unique_visitors']:<5} redemptions {code['redemptions']}",
            file=out,
        )
    return 0
