"""``python -m cli users ...``: a shopper's data rights, from the command line.

export   everything held about a user (and their anonymous ids) as JSON
erase    delete it all: profile, moments, offers and redemption codes, caps, devices and
         push endpoints, aliases and anonymous history (a bounce or complaint is kept as a
         hash of the address only, so it is never mailed again)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from cli import Refused, command_group
from cli.qr import _guarded


def add_parser(commands: Any) -> None:
    sub = command_group(commands, "users", "a user's data: export, erase", __doc__)

    export = sub.add_parser(
        "export",
        help="everything held about a user, as JSON",
        description="Print (or write with --out) everything held about the user and the anonymous "
        "ids aliased to them: profile, moments, offers, caps, devices.",
    )
    export.add_argument("user_id", help="the userId the apps send")
    export.add_argument("--out", help="write the JSON to this file instead of printing it")
    export.set_defaults(run=_export)

    erase = sub.add_parser(
        "erase",
        help="erase a user and their anonymous history",
        description="Delete every item about the user and their aliased anonymous ids, and their "
        "SNS push endpoints. Cannot be undone; safe to repeat after a failure.",
    )
    erase.add_argument("user_id", help="the userId the apps send")
    erase.add_argument("--yes", action="store_true", help="do it (without --yes nothing is deleted)")
    erase.set_defaults(run=_erase)


@_guarded
def _export(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    export = container.admin.export_user(args.user_id)
    text = json.dumps(export, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}: {_summary(export)}", file=out)
    else:
        print(text, file=out)
    return 0


@_guarded
def _erase(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    if not args.yes:
        raise Refused(f"erasing {args.user_id!r} cannot be undone: add --yes to do it")
    result = container.admin.erase_user(args.user_id)
    print(
        f"erased {args.user_id}: {result['items_deleted']} items, {result['anonymous_ids']} anonymous "
        f"id(s), {result['push_endpoints_deleted']} push endpoint(s)",
        file=out,
    )
    return 0


def _summary(export: dict[str, Any]) -> str:
    parts = [f"{len(export.get(k) or [])} {k}" for k in ("moments", "offers", "caps", "devices")]
    return ", ".join(parts) + f", {len(export.get('anonymous') or [])} anonymous id(s)"
