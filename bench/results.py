"""What a benchmark hands back (method, figures, targets) and how it is rendered as Markdown.

Pure data and formatting: no timing, no imports of the application.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How hard to try: ``quick`` is a smoke test (few repetitions), not a measurement.
    ``images_dir``: where a benchmark may write images for the page (beside it); None when the
    page is not written to a file, so a rough or partial run never replaces committed images."""

    quick: bool = False
    images_dir: Path | None = None


@dataclass(frozen=True)
class Target:
    """A goal and whether this run met it. A missed target is reported, never raised."""

    goal: str
    measured: str
    met: bool

    @property
    def verdict(self) -> str:
        return "met" if self.met else "**missed**"


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""

    def markdown(self) -> str:
        lines = [f"| {' | '.join(self.headers)} |", f"| {' | '.join('---' for _ in self.headers)} |"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return (f"{self.caption}\n\n" if self.caption else "") + "\n".join(lines)


@dataclass
class Section:
    """One benchmark's part of the results page."""

    name: str
    title: str
    method: str  # Markdown: what is measured and how
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (alt text, path relative to the page)
    seconds: float = 0.0  # wall time the benchmark took

    def plot(
        self, options: Options, progress: Progress, image: str, alt: str, draw: Callable[[Path], None]
    ) -> None:
        """Draw ``image`` beside the page with ``draw(path)`` when the page is written to a file
        (else say it is not), and show it in the section."""
        if options.images_dir is None:
            self.notes.append(f"`docs/{image}` is written only when the page is (a full run or `--output`).")
            return
        path = options.images_dir / image
        try:
            draw(path)
        except ImportError:
            self.notes.append(
                f"`docs/{image}` not written: matplotlib is not installed (`pip install -r requirements-dev.txt`)."
            )
            return
        progress(f"plotted {path}")
        self.images.append((alt, image))

    def markdown(self) -> str:
        parts = [
            f"## {self.title}",
            f"`python -m bench --only {self.name}` · took {self.seconds:.1f} s",
            "### Method",
            self.method.strip(),
        ]
        if self.targets:
            parts += [
                "### Targets",
                Table(
                    ["Target", "Measured", "Verdict"], [[t.goal, t.measured, t.verdict] for t in self.targets]
                ).markdown(),
            ]
        parts += ["### Figures", *(t.markdown() for t in self.tables)]
        parts += [f"![{alt}]({path})" for alt, path in self.images]
        if self.notes:
            parts += ["### Notes", "\n".join(f"- {n}" for n in self.notes)]
        return "\n\n".join(parts)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), so p99 is a latency that was observed."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(round(pct * len(ordered) / 100, 9)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_us(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_ms(value: float) -> str:
    return f"{value:,.1f}"


# --- the growth-curve images (matplotlib, imported by the caller only when it draws) ----------


def log_log(axes: Any, xlabel: str, ylabel: str, title: str) -> None:
    """The scale benchmarks' panel style: log-log, labelled, a light grid and a small legend."""
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8)


def save_figure(plt: Any, fig: Any, title: str, path: Path) -> None:
    """Title, lay out and write ``fig`` to ``path`` (no software stamp, so reruns differ only in
    their figures), then free it."""
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
