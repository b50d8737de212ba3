"""Load on the local stack (issue 8 item 1): simulated shoppers at a paced rate through
``/v1/batch`` and ``/q/``, then nothing lost, nothing counted or sent twice, the DLQ empty.

Sized for CI (``MM_LOAD_SHOPPERS`` shoppers of 15 events each, default 30 = 450 events at
``MM_LOAD_RATE`` events/s, default 10); ``python -m devstack.load`` runs bigger ones by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from devstack.background import start
from devstack.load import LoadRun, Target, events_per_shopper
from tests.e2e.conftest import ROOT, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOPPERS = int(os.environ.get("MM_LOAD_SHOPPERS", "30"))
RATE = float(os.environ.get("MM_LOAD_RATE", "10"))


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """conftest's stack, with a 5 s visibility timeout: under load a batch can take seconds, and
    a message must not come back while the worker still holds it."""
    stack = start(tmp_path_factory.mktemp("devstack"), visibility_timeout=5)
    yield stack
    stack.stop()


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
