"""E2E tier: start the real local stack (``python -m devstack run``) on free ports, talk HTTP to
``chalice local``, and read state straight from moto's server. Marked ``e2e``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.background import BackgroundStack, free_port, start

ROOT = Path(__file__).resolve().parents[2]
LocalStack = BackgroundStack
__all__ = ["ROOT", "LocalStack", "free_port", "local_stack"]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = start(tmp_path_factory.mktemp("devstack"), visibility_timeout=1)
    yield stack
    stack.stop()
