"""The local stack in the background, on free ports: what the e2e tests and the end-to-end
benchmark start and stop (``python -m devstack run`` in a subprocess of its own session).

Its output goes to a file, never a pipe: the queue pump logs every event, and a pipe nobody
reads fills up and blocks it. ``stop`` presses Ctrl-C, as a developer would, so the stack
stops moto and chalice local itself; anything of it still alive afterwards is killed and named.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.config import FAKE_AWS, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_on(port: int, moto_port: int) -> list[int]:
    """Process ids of this stack's moto server and chalice local, found by their ports."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            words = [w.decode(errors="replace") for w in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        moto = "moto.server" in words and str(moto_port) in words
        chalice = "local" in words and "--port" in words and str(port) in words
        if (moto or chalice) and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@dataclass(frozen=True)
class Stopped:
    exit_code: int | None
    seconds: float
    left: list[int]  # processes of the stack still alive after it stopped (then killed)


@dataclass
class BackgroundStack:
    process: subprocess.Popen[bytes]
    port: int
    moto_port: int
    log_dir: Path
    state: dict[str, Any] = field(default_factory=dict)
    banner: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=FAKE_AWS["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
        )

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The item as the application sees it: a profile decoded, a ``MSG#{messageId}`` key
        found among the moment records of the partition's profile (``read_item``)."""
        from chalicelib.adapters.dynamodb_moment_store import read_item

        return read_item(self.client("dynamodb"), self.state["outputs"]["TableName"], pk, sk)

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
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("*.log")))

    def stop(self, timeout: float = 60) -> Stopped:
        started = time.monotonic()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        left = processes_on(self.port, self.moto_port)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return Stopped(self.process.returncode, seconds, left)


def start(log_dir: Path, *, visibility_timeout: int = 1, ready_timeout: float = 120) -> BackgroundStack:
    """Start the stack with its logs, state file and output in ``log_dir``; wait for READY."""
    port = free_port()
    moto_port = free_port()
    while moto_port == port:
        moto_port = free_port()
    output = log_dir / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MM_"))}
    command = [
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
        str(log_dir),
        "--state-file",
        str(log_dir / "state.json"),
        "--visibility-timeout",
        str(visibility_timeout),
    ]
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack = BackgroundStack(process, port, moto_port, log_dir)
    deadline = time.monotonic() + ready_timeout
    while "READY" not in (text := output.read_text(errors="replace")).splitlines():
        if process.poll() is not None or time.monotonic() > deadline:
            stack.stop(timeout=10)
            raise RuntimeError(f"the local stack did not start:\n{text[-3000:]}")
        time.sleep(0.2)
    stack.banner = text
    stack.state = json.loads((log_dir / "state.json").read_text())
    return stack
