"""Connect the CLI to the running local stack (``make run`` / ``python -m devstack run``).

The stack writes ``.devstack/state.json`` with its ports and resource names while it runs. From
it and the ``local`` stage's variables in .chalice/config.json we set the environment the
chalice local process has (moto's endpoint, fake credentials, the queue URL, the public base
URL for the codes) and build the app's composition root (``chalicelib.wiring``) on it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.config import FAKE_AWS, stage_environment


class NoLocalStack(RuntimeError):
    """The local stack is not running (or not reachable)."""


def local_environment(state: dict[str, Any]) -> dict[str, str]:
    """The variables chalice local runs with, from the stack's state."""
    try:
        moto_port, port = int(state["moto_port"]), int(state["port"])
        queue_url = str(state["outputs"]["EventsQueueUrl"])
    except (KeyError, TypeError, ValueError) as exc:
        raise NoLocalStack(f"the state file lacks {exc}; restart the local stack") from None
    return {
        **FAKE_AWS,
        **stage_environment("local"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "MM_EVENTS_QUEUE_URL": queue_url,
        "MM_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }


def connect(state_file: Path) -> Any:
    """The wiring container of the running local stack; NoLocalStack if there is none."""
    if not state_file.is_file():
        raise NoLocalStack(
            f"the local stack is not running ({state_file} not found). Start it in another "
            "terminal with `make run` (or `python -m devstack run`), or pass --state-file"
        )
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise NoLocalStack(f"cannot read {state_file}: {exc}") from None
    env = local_environment(state)
    moto = env["AWS_ENDPOINT_URL"]
    try:
        with urllib.request.urlopen(f"{moto}/moto-api/", timeout=3):  # noqa: S310 - loopback only
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise NoLocalStack(
            f"moto at {moto} does not answer ({exc}); is `make run` still running? "
            f"(a stale {state_file} is left behind if the stack was killed)"
        ) from None
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(env)
    from chalicelib import wiring

    wiring.reset()
    return wiring.container()


def from_environment() -> Any:
    from chalicelib import wiring

    wiring.reset()
    return wiring.container()
