"""E2E tier: start the real local stack (``python -m devstack run``) on free ports, talk HTTP to
``chalice local``, and read state straight from moto's server. Marked ``e2e``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _drain(stream: Any, path: Path) -> None:
    with path.open("a") as sink:
        for line in stream:
            sink.write(line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalStack:
    process: subprocess.Popen[Any]
    base_url: str
    moto_url: str
    state: dict[str, Any]
    log_dir: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        from chalicelib.adapters.dynamodb_table import deserialize

        got = (
            self.client("dynamodb")
            .get_item(
                TableName=self.state["outputs"]["TableName"],
                Key={"PK": {"S": pk}, "SK": {"S": sk}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return deserialize(got) if got else None

    def wait_for(self, pk: str, sk: str, check: Any = bool, timeout: float = 2.0) -> dict[str, Any] | None:
        """Poll until the item satisfies ``check`` or the timeout passes; returns the last read."""
        deadline = time.monotonic() + timeout
        item = None
        while time.monotonic() < deadline:
            item = self.item(pk, sk)
            if item is not None and check(item):
                return item
            time.sleep(0.05)
        return item

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.log_dir.glob("*.log"))


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    tmp = tmp_path_factory.mktemp("devstack")
    port, moto_port = free_port(), free_port()
    state_file = tmp / "state.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MM_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack",
            "run",
            "--port",
            str(port),
            "--moto-port",
            str(moto_port),
            "--no-autoreload",
            "--print-ready",
            "--log-dir",
            str(tmp),
            "--state-file",
            str(state_file),
            "--visibility-timeout",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail("local stack exited early:\n" + "".join(output))
        output.append(line)
        if line.strip() == "READY":
            break
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("local stack not ready within 120 s:\n" + "".join(output))
    # Keep reading the stack's output: the pump logs every event, and a full pipe would block it.
    threading.Thread(target=_drain, args=(process.stdout, tmp / "stack.log"), daemon=True).start()
    stack = LocalStack(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{moto_port}",
        json.loads(state_file.read_text()),
        tmp,
    )
    stack.banner = "".join(output)  # type: ignore[attr-defined]
    yield stack
    if process.poll() is None:  # Ctrl-C, so the stack stops moto and chalice local itself
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
