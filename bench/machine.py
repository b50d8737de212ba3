"""The machine a run happened on: CPU model, cores, memory, Python and OS, for the results page.

Read from /proc on Linux; anything that cannot be read is reported as "unknown" rather than
failing the run.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    memory: str
    python: str
    os: str

    def rows(self) -> list[list[str]]:
        return [
            ["CPU", self.cpu_model],
            ["Cores (logical, usable)", str(self.cores)],
            ["Memory", self.memory],
            ["Python", self.python],
            ["OS", self.os],
        ]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 1024 / 1024:.1f} GiB"
    return "unknown"


def _os() -> str:
    pretty = ""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            pretty = line.partition("=")[2].strip().strip('"')
    return f"{pretty or platform.system()} (kernel {platform.release()}, {platform.machine()})"


def describe() -> Machine:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    return Machine(
        cpu_model=_cpu_model(),
        cores=cores,
        memory=_memory(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        os=_os(),
    )
