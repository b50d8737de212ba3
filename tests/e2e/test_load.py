"""Load on the local stack (issue 8 item 1): simulated shoppers at a paced rate through
``/v1/batch`` and ``/q/``, then nothing lost, nothing counted or sent twice, the DLQ empty.

Sized for CI (``MM_LOAD_SHOPPERS`` shoppers of 15 events each, default 30 = 450 events at
``MM_LOAD_RATE`` events/s, default 10); ``python -m devstack.load`` runs bigger ones by hand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.load import LoadRun, Target, events_per_shopper
from tests.e2e.conftest import ROOT, LocalStack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOPPERS = int(os.environ.get("MM_LOAD_SHOPPERS", "30"))
RATE = float(os.environ.get("MM_LOAD_RATE", "10"))


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """conftest's ``local_stack``, but the stack's own output goes to a file: under load the
    worker logs more than a pipe holds, and an undrained pipe blocks the queue pump."""
    tmp = tmp_path_factory.mktemp("devstack")
    port, moto_port = free_port(), free_port()
    state_file, output = tmp / "state.json", tmp / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MM_"))}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run", "--port", str(port), "--moto-port", str(moto_port)]
            + ["--no-autoreload", "--print-ready", "--log-dir", str(tmp), "--state-file", str(state_file)]
            + ["--visibility-timeout", "5"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while "READY" not in output.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("local stack not ready:\n" + output.read_text(errors="replace"))
        time.sleep(0.2)
    stack = LocalStack(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{moto_port}",
        json.loads(state_file.read_text()),
        tmp,
    )
    yield stack
    if process.poll() is None:  # Ctrl-C, so the stack stops moto and chalice local itself
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    for pid in leftover_processes(port, moto_port):  # a moto busy with a big table can outlive it
        os.kill(pid, signal.SIGKILL)


def leftover_processes(port: int, moto_port: int) -> list[int]:
    """This stack's moto server and chalice local, by their ports, if still running."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if ("moto.server" in words and str(moto_port) in words) or (
            "local" in words and "--port" in words and str(port) in words
        ):
            found.append(int(entry.name))
    return found


def test_the_load_generator_explains_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.load", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--shoppers" in result.stdout and "--rate" in result.stdout and "reconcile" in result.stdout


def test_a_paced_load_is_processed_exactly_once_and_every_sent_offer_reaches_moto(
    quiet_stack: LocalStack,
) -> None:
    # Given the local stack and a few dozen shoppers
    run = LoadRun(
        Target.from_state(quiet_stack.state),
        shoppers=SHOPPERS,
        rate=RATE,
        duration=240,
        drain_timeout=120,
        progress=sys.stderr,
    )

    # When they all shop at the paced rate
    report = run.run()
    print("\n".join(report.lines()))

    # Then every accepted event was processed once, counted once, and every offer the ledger
    # says was sent is in moto's outbox once
    assert report.events_accepted == SHOPPERS * events_per_shopper(), report.lines()
    assert report.reconciled, "\n".join(report.lines()) + "\n" + quiet_stack.logs()[-3000:]
    assert sum(report.offers_sent.values()) > 0, "no offer was sent: nothing to measure"
