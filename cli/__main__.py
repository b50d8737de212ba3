"""``python -m cli``: the micromoments command line. ``python -m cli qr --help`` for QR codes,
``python -m cli users --help`` to export or erase a user's data, ``python -m cli reports --help``
for the funnel, campaign, engagement, peak-hour, lift and suppression reports and the dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from cli import qr, reports, stores, users
from devstack.config import DEFAULT_STATE_FILE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cli",
        description="micromoments operator commands. By default they talk to the local stack "
        "started by `make run` (found through .devstack/state.json); --use-env talks to whatever "
        "the MM_* and AWS_* environment variables describe instead.",
    )
    parser.add_argument(
        "--state-file",
        default=str(DEFAULT_STATE_FILE),
        help="the running local stack's state file, written by `python -m devstack run` "
        "(default .devstack/state.json)",
    )
    parser.add_argument(
        "--use-env",
        action="store_true",
        help="do not look for the local stack: use the MM_* settings and AWS credentials already "
        "in the environment (for example a deployed stage's table)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    qr.add_parser(commands)
    stores.add_parser(commands)
    users.add_parser(commands)
    reports.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, container: Any = None, out: TextIO | None = None) -> int:
    """Exit codes: 0 done, 1 refused (bad value, unknown code), 2 usage, 3 no local stack.
    ``container`` replaces the connection (tests pass the one they built)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args, container, out or sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
