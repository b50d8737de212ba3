"""Cold import of ``app.py``: what every Lambda function of the app pays on a cold start.

Measures, in fresh interpreter processes started from the project root with the ``local``
stage's environment (``devstack.config.stage_environment("local")``, metrics disabled,
``PYTHONPATH`` = the project root):

- the wall time of ``python -c "import app"``, as a ratio to ``python -c "import boto3, chalice"``
  (what a bare Chalice app that talks to AWS would import) and, for context, to
  ``python -c "pass"`` (the interpreter alone). The three are interleaved round-robin, rotating
  which goes first, so machine noise hits them alike; each is run once beforehand to warm the
  bytecode cache (``__pycache__``), as a deployed package ships or builds it once.
- where the time goes: ``python -X importtime -c "import app"``, aggregated by top-level package.
- whether ``import app`` pulls in boto3 (it must not: the adapters import it on first use).

Only subprocesses are started; this module never imports the application itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.results import Options, Progress, Section, Table, Target, fmt_ms, fmt_us, median

NAME = "cold_import"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
PROCESS_TIMEOUT_SECONDS = 60.0
# Variables that would change how imports behave or are cached, dropped from the child's env.
_IMPORT_SENSITIVE = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONINSPECT",
    "PYTHONSTARTUP",
    "PYTHONHOME",
)


@dataclass(frozen=True)
class Arm:
    key: str
    code: str
    label: str


APP = Arm("app", "import app", '`python -c "import app"`')
BASELINE = Arm("baseline", "import boto3, chalice", '`python -c "import boto3, chalice"`')
BARE = Arm("bare", "pass", '`python -c "pass"` (interpreter only)')
ARMS = (APP, BASELINE, BARE)
WATCHED_MODULES = ("boto3", "botocore", "pydantic", "aws_lambda_powertools")


def child_environment() -> dict[str, str]:
    """The environment a local-stage Lambda would see, plus the project on the import path."""
    from devstack.config import stage_environment

    env = {k: v for k, v in os.environ.items() if k not in _IMPORT_SENSITIVE}
    env.update(stage_environment("local"))
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _python(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def _wall_ms(arm: Arm, env: Mapping[str, str]) -> float:
    start = time.perf_counter_ns()
    _python(["-c", arm.code], env)
    return (time.perf_counter_ns() - start) / 1e6


def interleaved_runs(env: Mapping[str, str], repetitions: int, progress: Progress) -> dict[str, list[float]]:
    """Round r runs the arms rotated by r (A B C, B C A, C A B, ...), after one warm-up each."""
    for arm in ARMS:
        _wall_ms(arm, env)
    samples: dict[str, list[float]] = {arm.key: [] for arm in ARMS}
    for r in range(repetitions):
        for i in range(len(ARMS)):
            arm = ARMS[(r + i) % len(ARMS)]
            samples[arm.key].append(_wall_ms(arm, env))
        progress(
            f"round {r + 1}/{repetitions}: "
            + ", ".join(f"{arm.key} {samples[arm.key][-1]:.0f} ms" for arm in ARMS)
        )
    return samples


# --- python -X importtime ------------------------------------------------------------------


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)

    @property
    def package(self) -> str:
        return self.name.split(".")[0]

    def walk(self) -> Iterator[tuple[ImportNode, tuple[str, ...]]]:
        """Every node below this one with the names of its importers, outermost first."""
        stack: list[tuple[ImportNode, tuple[str, ...]]] = [(c, (self.name,)) for c in reversed(self.children)]
        while stack:
            node, path = stack.pop()
            yield node, path
            stack.extend((c, (*path, node.name)) for c in reversed(node.children))


def parse_importtime(stderr: str) -> list[ImportNode]:
    """``-X importtime`` prints each module after the modules it imported, indented by depth."""
    waiting: dict[int, list[ImportNode]] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, raw_name = line[len("import time:") :].split("|", 2)
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        node = ImportNode(raw_name.strip(), int(self_us), int(cumulative_us), waiting.pop(depth + 1, []))
        waiting.setdefault(depth, []).append(node)
    return waiting.get(0, [])


@dataclass(frozen=True)
class PackageCost:
    package: str
    cumulative_us: float  # its imports plus everything they imported first
    self_us: float  # its own modules only


def package_costs(root: ImportNode) -> tuple[dict[str, int], dict[str, int]]:
    """Per top-level package below ``root``: (cumulative, self) microseconds. A package's
    cumulative time counts each outermost import of it once (not again when re-entered)."""
    cumulative: dict[str, int] = {}
    own: dict[str, int] = {}
    for node, importers in root.walk():
        own[node.package] = own.get(node.package, 0) + node.self_us
        if node.package not in {name.split(".")[0] for name in importers}:
            cumulative[node.package] = cumulative.get(node.package, 0) + node.cumulative_us
    return cumulative, own


def import_chains(root: ImportNode, modules: tuple[str, ...]) -> dict[str, str]:
    """For each module imported below ``root``: the chain of imports that first pulled it in."""
    chains: dict[str, str] = {}
    for node, importers in root.walk():
        if node.name in modules and node.name not in chains:
            chains[node.name] = " → ".join((*importers, node.name))
    return chains


@dataclass(frozen=True)
class ImportProfile:
    total_us: float
    top: list[PackageCost]
    chains: dict[str, str]


def profile_imports(env: Mapping[str, str], runs: int, top_n: int = 10) -> ImportProfile:
    """Median per package over ``runs`` profiled imports (importtime itself adds overhead)."""
    totals: list[int] = []
    cumulative_runs: list[dict[str, int]] = []
    own_runs: list[dict[str, int]] = []
    chains: dict[str, str] = {}
    for _ in range(runs):
        stderr = _python(["-X", "importtime", "-c", APP.code], env).stderr
        root = next((n for n in parse_importtime(stderr) if n.name == "app"), None)
        if root is None:
            raise RuntimeError("python -X importtime printed no line for the module 'app'")
        totals.append(root.cumulative_us)
        cumulative, own = package_costs(root)
        cumulative_runs.append(cumulative)
        own_runs.append(own)
        chains = chains or import_chains(root, WATCHED_MODULES)
    packages = {p for run in cumulative_runs for p in run}
    costs = [
        PackageCost(
            p, median([run.get(p, 0) for run in cumulative_runs]), median([run.get(p, 0) for run in own_runs])
        )
        for p in packages
    ]
    costs.sort(key=lambda c: c.cumulative_us, reverse=True)
    return ImportProfile(median(totals), costs[:top_n], chains)


def modules_loaded_by_app(env: Mapping[str, str]) -> dict[str, bool]:
    code = (
        "import json, sys; import app; "
        f"print(json.dumps({{m: m in sys.modules for m in {list(WATCHED_MODULES)!r}}}))"
    )
    loaded: dict[str, bool] = json.loads(_python(["-c", code], env).stdout.strip().splitlines()[-1])
    return loaded


# --- the benchmark -------------------------------------------------------------------------


def run(options: Options, progress: Progress) -> Section:
    repetitions = 3 if options.quick else 7
    profile_runs = 1 if options.quick else 3
    env = child_environment()
    started = time.perf_counter()

    progress(f"warming the bytecode cache, then {repetitions} interleaved rounds of {len(ARMS)} processes")
    samples = interleaved_runs(env, repetitions, progress)
    medians = {key: median(values) for key, values in samples.items()}
    ratio = medians[APP.key] / medians[BASELINE.key]
    net_app, net_baseline = medians[APP.key] - medians[BARE.key], medians[BASELINE.key] - medians[BARE.key]

    progress(f"profiling imports with python -X importtime ({profile_runs} run(s))")
    profile = profile_imports(env, profile_runs)
    loaded = modules_loaded_by_app(env)

    section = Section(
        name=NAME,
        title="Cold import of app.py",
        method=f"""
Every Lambda function of the app (the API and the SQS worker) imports `app.py` on a cold start.
Each figure is the wall time of a fresh `{Path(sys.executable).name}` process started with
`subprocess.run` from the project root, timed with `time.perf_counter_ns`, with the `local`
stage's environment from `.chalice/config.json` (`devstack.config.stage_environment("local")`),
`POWERTOOLS_METRICS_DISABLED=true` and `PYTHONPATH` set to the project root.

- Three commands: {", ".join(arm.label for arm in ARMS)}.
- Each is run once first to warm the bytecode cache (`__pycache__`), then {repetitions} rounds run
  all three, interleaved, rotating which goes first, so noise from other tenants hits all alike.
- The figure is the median of the {repetitions} runs; the target compares `import app` with the
  `boto3` + `chalice` baseline. Process start-up is inside both, so the page also gives the
  ratio net of the bare interpreter.
- Where the time goes: `python -X importtime -c "import app"` ({profile_runs} run(s), median per
  package). A package's *cumulative* time is the cumulative figure of each outermost import of
  one of its modules (so it includes whatever those imported first, even from other packages);
  *self* is the sum of its own modules' self times. Only the `import app` subtree counts, not
  interpreter start-up. `-X importtime` itself slows imports down a little.
- Whether `boto3` is imported: `python -c "import app, sys; print('boto3' in sys.modules)"`.
""",
    )
    section.targets.append(
        Target(
            f"`import app` ≤ {TARGET_RATIO}× `import boto3, chalice` (median wall time)",
            f"{ratio:.2f}×",
            ratio <= TARGET_RATIO,
        )
    )
    section.targets.append(
        Target(
            "`import app` does not import `boto3`",
            "boto3 imported" if loaded["boto3"] else "boto3 not imported",
            not loaded["boto3"],
        )
    )

    rows = []
    for arm in ARMS:
        values = samples[arm.key]
        rows.append(
            [
                arm.label,
                fmt_ms(medians[arm.key]),
                fmt_ms(min(values)),
                fmt_ms(max(values)),
                " ".join(f"{v:.0f}" for v in values),
            ]
        )
    section.tables.append(
        Table(
            ["Command", "Median ms", "Min ms", "Max ms", "Runs (ms, in order)"],
            rows,
            caption=f"Wall time per process, {repetitions} interleaved runs each:",
        )
    )
    section.tables.append(
        Table(
            ["Ratio", "Value"],
            [
                ["`import app` / `import boto3, chalice` (the target)", f"{ratio:.2f}×"],
                [
                    "the same, net of interpreter start-up",
                    f"{net_app / net_baseline:.2f}×" if net_baseline > 0 else "n/a",
                ],
                ["`import app` net of interpreter start-up", f"{fmt_ms(net_app)} ms"],
            ],
        )
    )
    section.tables.append(
        Table(
            ["#", "Top-level package", "Cumulative µs", "Self µs", "Share of `import app`"],
            [
                [
                    str(i),
                    f"`{c.package}`",
                    fmt_us(c.cumulative_us),
                    fmt_us(c.self_us),
                    f"{c.cumulative_us / profile.total_us:.0%}",
                ]
                for i, c in enumerate(profile.top, 1)
            ],
            caption=f"Top {len(profile.top)} import costs of `import app` (`-X importtime`; "
            f"`import app` in total: {fmt_us(profile.total_us)} µs cumulative):",
        )
    )
    section.tables.append(
        Table(
            ["Module", "In `sys.modules` after `import app`", "First imported via"],
            [[f"`{m}`", "yes" if loaded[m] else "no", profile.chains.get(m, "—")] for m in WATCHED_MODULES],
            caption="Heavy modules and who pulls them in:",
        )
    )
    if loaded.get("botocore") and not loaded["boto3"]:
        section.notes.append(
            "`botocore` (its package `__init__` only) is imported without `boto3`; see the chain above."
        )
    section.seconds = time.perf_counter() - started
    return section
