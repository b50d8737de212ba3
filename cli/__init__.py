"""The micromoments command line (``python -m cli``): operator tasks against the local stack.

Not deployed (Chalice packages only ``app.py`` and ``chalicelib/``). Every command goes through
the same use cases the admin API uses (``chalicelib.wiring``), so the rules are the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

Command = Callable[[argparse.Namespace, Any, TextIO], int]


class Refused(Exception):
    """A command refuses what it was asked (the message says why and what to give instead)."""


def connect_container(args: argparse.Namespace, container: Any) -> Any:
    """The given container (tests), the stage's from the environment (``--use-env``), or the
    running local stack's (``--state-file``)."""
    from cli.local_stack import connect, from_environment

    if container is not None:
        return container
    if args.use_env:
        return from_environment()
    return connect(Path(args.state_file))


def guarded(option_of: Mapping[str, str]) -> Callable[[Command], Command]:
    """A command's refusals -> ``error: --option: message`` (the field named as the option the
    user typed, from ``option_of``), exit 1; no local stack -> exit 3."""

    def decorate(run: Command) -> Command:
        def wrapper(args: argparse.Namespace, container: Any, out: TextIO) -> int:
            import sys

            from chalicelib.domain.errors import InvalidInput, NotFound, RetryableError
            from chalicelib.settings import SettingsError
            from cli.local_stack import NoLocalStack

            try:
                return int(run(args, connect_container(args, container), out))
            except NoLocalStack as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 3
            except InvalidInput as exc:
                for error in exc.errors:
                    print(
                        f"error: {option_of.get(error.field, error.field)}: {error.message}", file=sys.stderr
                    )
                return 1
            except (NotFound, Refused, RetryableError, SettingsError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1

        return wrapper

    return decorate


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
