"""Cold import of ``app.py``: what every Lambda function of the app pays on a cold start.

Measures, in fresh interpreter processes started from the project root with the ``local``
stage's environment (``devstack.config.stage_environment("local")``, metrics disabled,
``PYTHONPATH`` = the project root):

- the wall time of ``python -c "import app"``, as a ratio to ``python -c "import boto3, chalice"``
  (what a bare Chalice app that talks to AWS would import) and, for context, to
  ``python -c "pass"`` (the interpreter alone). The three are interleaved round-robin, rotating
  which goes first, so machine noise hits them alike, under three bytecode-cache conditions:
  a warm cache (``__pycache__`` written beforehand), no cache at all (``PYTHONDONTWRITEBYTECODE=1``
  and ``PYTHONPYCACHEPREFIX`` pointing at a new empty folder for every process, so no ``.pyc`` is
  read or written), and as on Lambda (everything ``deployment.zip`` ships is compiled from source,
  since it ships no ``.pyc`` for them and ``/var/task`` is read-only; the runtime's boto3 and the
  standard library are cached).
- where the time goes: ``python -X importtime -c "import app"``, aggregated by top-level package,
  with a warm cache and as on Lambda.
- whether ``import app`` pulls in boto3 (it must not: the adapters import it on first use).

Only subprocesses are started; this module never imports the application itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench.results import Options, Progress, Section, Table, Target, fmt_ms, fmt_us, median

NAME = "cold_import"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.25  # with a warm bytecode cache (issue #9)
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


# --- bytecode cache conditions ----------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    key: str
    label: str
    env: Callable[[], Mapping[str, str]]  # the environment for one process (may make a folder)


def packaged_top_levels() -> set[str]:
    """Top-level modules in site-packages that deployment.zip ships: requirements.txt's packages
    and their dependencies (what ``chalice package`` installs), plus ``chalice`` (its app module)."""
    names: set[str] = {"chalice"}
    pending = [
        line.split("==")[0].split("[")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            top = file.parts[0]
            if top.endswith((".dist-info", ".data")) or top in ("..", "__pycache__"):
                continue
            names.add(top.removesuffix(".py"))
        for requirement in dist.requires or ():
            if "extra ==" not in requirement:
                name_part = re.match(r"[A-Za-z0-9._-]+", requirement)
                if name_part:
                    pending.append(name_part.group(0))
    return names


def lambda_like_prefix(folder: Path, env: Mapping[str, str]) -> Path:
    """A PYTHONPYCACHEPREFIX with every module ``import app`` and ``import boto3, chalice`` load
    compiled, then the app's own and the packaged modules' entries removed: on Lambda those come
    from deployment.zip without ``.pyc`` and cannot be cached (read-only /var/task)."""
    prefix = folder / "lambda-prefix"
    warm = {**env, "PYTHONPYCACHEPREFIX": str(prefix)}
    for arm in ARMS:
        _python(["-c", arm.code], warm)
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    names = packaged_top_levels()
    trees = [ROOT.resolve() / "chalicelib", *(site / n for n in names)]
    files = {ROOT.resolve() / "app.py", *(site / f"{n}.py" for n in names)}
    removed = 0
    for pyc in list(prefix.rglob("*.pyc")):
        # PYTHONPYCACHEPREFIX mirrors the source's folder: <prefix>/<dir>/<module>.cpython-311.pyc
        source = Path("/") / pyc.parent.relative_to(prefix) / (pyc.name.split(".", 1)[0] + ".py")
        if source in files or any(tree in source.parents for tree in trees):
            pyc.unlink()
            removed += 1
    if removed == 0:
        raise RuntimeError(f"no cached module of the package found under {prefix}")
    return prefix


def conditions(env: Mapping[str, str], folder: Path) -> list[Condition]:
    counter = iter(range(1_000_000))

    def no_cache() -> Mapping[str, str]:
        empty = folder / f"empty-{next(counter)}"
        empty.mkdir()
        return {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty)}

    lambda_env = {
        **env,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPYCACHEPREFIX": str(lambda_like_prefix(folder, env)),
    }
    return [
        Condition("warm", "warm bytecode cache (`__pycache__` written beforehand)", lambda: env),
        Condition(
            "lambda",
            "as on Lambda: the package's modules compiled from source, boto3 and the stdlib cached",
            lambda: lambda_env,
        ),
        Condition(
            "none",
            "no bytecode cache at all (`PYTHONDONTWRITEBYTECODE=1`, an empty `PYTHONPYCACHEPREFIX` per process)",
            no_cache,
        ),
    ]


def interleaved_runs(condition: Condition, repetitions: int, progress: Progress) -> dict[str, list[float]]:
    """Round r runs the arms rotated by r (A B C, B C A, C A B, ...), after one warm-up each (for
    the warm cache, the warm-up writes ``__pycache__``)."""
    for arm in ARMS:
        _wall_ms(arm, condition.env())
    samples: dict[str, list[float]] = {arm.key: [] for arm in ARMS}
    for r in range(repetitions):
        for i in range(len(ARMS)):
            arm = ARMS[(r + i) % len(ARMS)]
            samples[arm.key].append(_wall_ms(arm, condition.env()))
        progress(
            f"{condition.key} cache, round {r + 1}/{repetitions}: "
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
    repetitions = 3 if options.quick else 10
    profile_runs = 1 if options.quick else 3
    env = child_environment()
    started = time.perf_counter()

    samples: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as tmp:
        progress("preparing the bytecode caches: warm, as on Lambda (the package uncached), none")
        conds = conditions(env, Path(tmp))
        for condition in conds:
            progress(f"{condition.key} cache: {repetitions} interleaved rounds of {len(ARMS)} processes")
            samples[condition.key] = interleaved_runs(condition, repetitions, progress)
        progress(f"profiling imports with python -X importtime ({profile_runs} run(s) per cache)")
        profiles = {
            "warm": profile_imports(env, profile_runs),
            "lambda": profile_imports(conds[1].env(), profile_runs),
        }
        shutil.rmtree(tmp, ignore_errors=True)
    loaded = modules_loaded_by_app(env)
    medians = {c: {key: median(v) for key, v in by_arm.items()} for c, by_arm in samples.items()}
    ratios = {c: m[APP.key] / m[BASELINE.key] for c, m in medians.items()}

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
- Three bytecode caches: **warm** (each command run once first, which writes `__pycache__`);
  **as on Lambda**: `PYTHONDONTWRITEBYTECODE=1` and a `PYTHONPYCACHEPREFIX` holding the compiled
  standard library, boto3 and botocore but none of what `deployment.zip` ships (`app.py`,
  `chalicelib`, `chalice` and the packages of `requirements.txt` with their dependencies:
  {", ".join(f"`{n}`" for n in sorted(packaged_top_levels()))}), because the zip ships no `.pyc`
  for them and Lambda's `/var/task` is read-only, so every cold start compiles them (this assumes
  the runtime's own boto3 is precompiled); **none**: `PYTHONDONTWRITEBYTECODE=1` and a new, empty
  `PYTHONPYCACHEPREFIX` for every process, so nothing is read from or written to a cache.
- Per cache, {repetitions} rounds run all three commands, interleaved, rotating which goes first,
  so noise from other tenants hits all alike; each figure is the median of the {repetitions}
  runs. The target compares `import app` with the `boto3` + `chalice` baseline with a warm
  cache. Process start-up is inside both, so the page also gives the ratios net of the bare
  interpreter.
- Where the time goes: `python -X importtime -c "import app"` ({profile_runs} run(s) per cache,
  median per package), with a warm cache and as on Lambda. A package's *cumulative* time is the
  cumulative figure of each outermost import of one of its modules (so it includes whatever those
  imported first, even from other packages); *self* is the sum of its own modules' self times.
  Only the `import app` subtree counts, not interpreter start-up. `-X importtime` itself slows
  imports down a little.
- Whether `boto3` is imported: `python -c "import app, sys; print('boto3' in sys.modules)"`.
""",
    )
    section.targets.append(
        Target(
            f"`import app` ≤ {TARGET_RATIO}× `import boto3, chalice` with a warm bytecode cache (median wall time)",
            f"{ratios['warm']:.2f}× (as on Lambda {ratios['lambda']:.2f}×, no cache {ratios['none']:.2f}×)",
            ratios["warm"] <= TARGET_RATIO,
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
    for condition in conds:
        for arm in ARMS:
            values = samples[condition.key][arm.key]
            rows.append(
                [
                    condition.key,
                    arm.label,
                    fmt_ms(medians[condition.key][arm.key]),
                    fmt_ms(min(values)),
                    fmt_ms(max(values)),
                    " ".join(f"{v:.0f}" for v in values),
                ]
            )
    section.tables.append(
        Table(
            ["Cache", "Command", "Median ms", "Min ms", "Max ms", "Runs (ms, in order)"],
            rows,
            caption=f"Wall time per process, {repetitions} interleaved runs each:",
        )
    )
    ratio_rows = []
    for condition in conds:
        m = medians[condition.key]
        net_app, net_baseline = m[APP.key] - m[BARE.key], m[BASELINE.key] - m[BARE.key]
        ratio_rows.append(
            [
                condition.label,
                f"{ratios[condition.key]:.2f}×",
                f"{net_app / net_baseline:.2f}×" if net_baseline > 0 else "n/a",
                f"{fmt_ms(net_app)} ms",
                f"{fmt_ms(net_baseline)} ms",
            ]
        )
    section.tables.append(
        Table(
            [
                "Cache",
                "`import app` / `import boto3, chalice`",
                "the same, net of interpreter start-up",
                "`import app` net of start-up",
                "`import boto3, chalice` net of start-up",
            ],
            ratio_rows,
        )
    )
    for key, caption in (
        ("warm", "with a warm cache"),
        ("lambda", "as on Lambda (the package's modules compiled on import)"),
    ):
        profile = profiles[key]
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
                caption=f"Top {len(profile.top)} import costs of `import app` {caption} (`-X importtime`; "
                f"`import app` in total: {fmt_us(profile.total_us)} µs cumulative):",
            )
        )
    section.tables.append(
        Table(
            ["Module", "In `sys.modules` after `import app`", "First imported via"],
            [
                [f"`{m}`", "yes" if loaded[m] else "no", profiles["warm"].chains.get(m, "—")]
                for m in WATCHED_MODULES
            ],
            caption="Heavy modules and who pulls them in:",
        )
    )
    if loaded.get("botocore") and not loaded["boto3"]:
        section.notes.append(
            "`botocore` (its package `__init__` only) is imported without `boto3`; see the chain above."
        )
    lam = medians["lambda"]
    section.notes.append(
        f"On Lambda, the modules the zip ships are compiled on every cold start: `import app` takes "
        f"{fmt_ms(lam[APP.key] - medians['warm'][APP.key])} ms more than with a warm cache here. "
        "Shipping them precompiled (`python -m compileall --invalidation-mode unchecked-hash` over the "
        "packaged folder before zipping; Chalice's packager ships the `.py` files only, plus whatever "
        "`chalicelib/__pycache__` holds at build time) would give Lambda the warm figure."
    )
    section.seconds = time.perf_counter() - started
    return section
