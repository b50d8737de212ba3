"""The micromoments command line (``python -m cli``): operator tasks against the local stack.

Not deployed (Chalice packages only ``app.py`` and ``chalicelib/``). Every command goes through
the same use cases the admin API uses (``chalicelib.wiring``), so the rules are the same.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO


def command_group(commands: Any, name: str, help_text: str, description: str | None) -> Any:
    """A ``python -m cli NAME`` group whose bare use prints its help (exit 2); returns the
    sub-parsers to add its commands to."""
    group = commands.add_parser(
        name, help=help_text, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = group.add_subparsers(dest=f"{name}_command", metavar=f"{name.upper()}_COMMAND")

    def usage(args: argparse.Namespace, container: Any, out: TextIO) -> int:
        group.print_help(out)
        return 2

    group.set_defaults(run=usage)
    return sub
