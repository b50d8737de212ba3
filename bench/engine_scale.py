"""Decision time as the campaign count grows (100 to 100,000): the index against a full scan.

Uses the decision-engine benchmark's catalogue (``bench.decision_engine``: the same 2,000 stores,
600 products, 200 videos, the same campaign mix and shopper), builds 100,000 campaigns once with
``parse_campaign`` and takes the first N for each size (the campaigns are drawn independently, so
any prefix is a sample of the mix). For each size it times, per moment, ``CampaignIndex.candidates``
+ ``decide`` (what the worker does) and, for a subset of the same moments, ``decide`` over all N
campaigns; both must decide the same, or the run stops. The growth curve is plotted to
``docs/engine_scale.png`` (matplotlib, from requirements-dev.txt) when the page is written.

Position evaluation against 1,000 to 1,000,000 geofences is ``bench.geofence_scale``'s.

Imports only the pure core (``chalicelib.domain``, ``chalicelib.engine``); no AWS.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import decision_engine as de
from bench.results import Options, Progress, Section, Table, fmt_us, log_log, median, percentile, save_figure

NAME = "engine_scale"
SIZES = (100, 1_000, 10_000, 100_000)
QUICK_SIZES = (100, 1_000)
IMAGE = "engine_scale.png"
PASSES = 3  # indexed path: each moment's figure is its best of this many passes
NAIVE_BUDGET_SECONDS = 6.0  # per size, for the full scan
INDEXED_BUDGET_SECONDS = 8.0  # per size, for the indexed path


@dataclass(frozen=True)
class Point:
    campaigns: int
    index_build_ms: float
    candidates_mean: float
    candidates_max: int
    indexed_us: list[float]  # per moment, best of the passes
    indexed_passes: int
    naive_us: list[float]  # per moment of the subset, best of its passes
    naive_passes: int
    slowest_type: str
    slowest_type_p99: float

    @property
    def ratio(self) -> float:
        same = self.indexed_us[: len(self.naive_us)]
        return (sum(self.naive_us) / len(self.naive_us)) / (sum(same) / len(same))


def _best_of(fn: Any, moments: list[tuple[Any, Any]], passes: int) -> tuple[list[float], list[Any]]:
    runs: list[list[float]] = [[] for _ in moments]
    decisions: list[Any] = []
    for p in range(passes):
        for i, (facts, store) in enumerate(moments):
            decision, us = de._timed(fn, facts, store)
            runs[i].append(us)
            if p == 0:
                decisions.append(decision)
    return [min(r) for r in runs], decisions


def measure_size(
    n: int,
    campaigns: list[Any],
    moments: list[tuple[Any, Any]],
    shopper: Any,
    progress: Progress,
    quick: bool,
) -> Point:
    from chalicelib.engine.decide import Policy, decide
    from chalicelib.engine.index import CampaignIndex

    chosen = campaigns[:n]
    policy = Policy()
    start = time.perf_counter_ns()
    index = CampaignIndex(chosen)
    build_ms = (time.perf_counter_ns() - start) / 1e6
    if index.size != n:
        raise de.IndexMissedCampaigns(f"the index holds {index.size} of {n} active campaigns")

    def indexed(facts: Any, store: Any) -> Any:
        found = de.candidates(index, facts)
        return decide(
            found, facts, shopper.profile, shopper.reach, store, policy, de.NOW, shopper.subject_key
        )

    def naive(facts: Any, store: Any) -> Any:
        return decide(
            chosen, facts, shopper.profile, shopper.reach, store, policy, de.NOW, shopper.subject_key
        )

    warmup_started = time.perf_counter()
    for facts, store in moments[:50]:
        indexed(facts, store)
    per_moment = (time.perf_counter() - warmup_started) / 50
    # Big catalogues: one pass, and as many moments as fit the budget (at least 300).
    indexed_passes = PASSES if n <= 10_000 else 1
    indexed_n = max(300, min(len(moments), int(INDEXED_BUDGET_SECONDS / per_moment / indexed_passes)))
    moments = moments[:indexed_n]
    gc.collect()
    indexed_us, indexed_decisions = _best_of(indexed, moments, indexed_passes)

    # The full scan: as many of the same moments as fit the budget (estimated from one moment).
    _, one = de._timed(naive, *moments[0])
    passes = PASSES if n <= 10_000 else 1
    fit = int(NAIVE_BUDGET_SECONDS * 1e6 / max(one, 1.0) / passes)
    naive_n = max(10, min(300 if not quick else 30, fit, len(moments)))
    naive_us, naive_decisions = _best_of(naive, moments[:naive_n], passes)
    for i, decision in enumerate(naive_decisions):
        if de.signature(decision) != de.signature(indexed_decisions[i]):
            facts = moments[i][0]
            raise de.IndexMissedCampaigns(
                f"{n:,} campaigns, moment {facts.message_id}: the full scan decided "
                f"{de.signature(decision)}, the index {de.signature(indexed_decisions[i])}"
            )

    counts = [len(de.candidates(index, f)) for f, _ in moments]
    by_type: dict[str, list[float]] = {}
    for (facts, _), us in zip(moments, indexed_us, strict=True):
        by_type.setdefault(facts.moment_type, []).append(us)
    slowest = max(by_type, key=lambda t: percentile(by_type[t], 99))
    point = Point(
        campaigns=n,
        index_build_ms=build_ms,
        candidates_mean=sum(counts) / len(counts),
        candidates_max=max(counts),
        indexed_us=indexed_us,
        indexed_passes=indexed_passes,
        naive_us=naive_us,
        naive_passes=passes,
        slowest_type=slowest,
        slowest_type_p99=percentile(by_type[slowest], 99),
    )
    progress(
        f"{n:,} campaigns: indexed p50 {median(indexed_us):.0f} µs, p99 {percentile(indexed_us, 99):.0f} µs; "
        f"naive p50 {median(naive_us):.0f} µs over {naive_n} moments; {point.ratio:.1f}× slower"
    )
    return point


def plot(points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p.campaigns for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    left.plot(xs, [median(p.indexed_us) for p in points], "o-", color="tab:blue", label="indexed p50")
    left.plot(
        xs, [percentile(p.indexed_us, 99) for p in points], "o--", color="tab:blue", label="indexed p99"
    )
    left.plot(xs, [median(p.naive_us) for p in points], "s-", color="tab:red", label="naive scan p50")
    left.plot(
        xs, [percentile(p.naive_us, 99) for p in points], "s--", color="tab:red", label="naive scan p99"
    )
    left.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
    left.text(xs[0], 1100, "1 ms", color="grey", fontsize=8)
    log_log(left, "active campaigns", "µs per decision (candidates + decide)", "Decision time per moment")
    right.plot(xs, [p.candidates_mean for p in points], "o-", color="tab:green", label="candidates (mean)")
    right.plot(xs, [p.candidates_max for p in points], "o--", color="tab:green", label="candidates (max)")
    right.plot(xs, xs, ":", color="tab:red", label="naive scan: all campaigns")
    log_log(right, "active campaigns", "campaigns decide() looks at", "Candidates from the index")
    save_figure(plt, fig, "micromoments offer engine: growth with the campaign count (python -m bench)", path)


def run(options: Options, progress: Progress) -> Section:
    started = time.perf_counter()
    sizes = QUICK_SIZES if options.quick else SIZES
    moments_n = 200 if options.quick else 1_200
    rng = random.Random(de.SEED)
    world = de.build_world(rng)
    progress(f"building {max(sizes):,} campaigns with parse_campaign (the first N are used per size)")
    t0 = time.perf_counter()
    campaigns = de.build_campaigns(world, rng, max(sizes))
    build_seconds = time.perf_counter() - t0
    shopper = de.build_shopper(world, rng)
    moments = de.build_moments(moments_n, world, rng)
    points = [measure_size(n, campaigns, moments, shopper, progress, options.quick) for n in sizes]

    section = Section(
        name=NAME,
        title="Engine scale: decision time from 100 to 100,000 campaigns",
        method=f"""
How the worker's decision time grows with the number of active campaigns, for the index it uses
and for a full scan. The catalogue is the decision-engine benchmark's ({de.STORES:,} stores,
{de.PRODUCTS} products, {de.VIDEOS} videos, the same campaign mix, shopper and clock): {max(sizes):,}
campaigns are built once with `parse_campaign` ({build_seconds:.1f} s), and each size uses the
first N of them (independent draws, so any prefix is a sample of the mix). The store count stays
at {de.STORES:,}: more campaigns means more campaigns per store and more chain-wide ones.

- **Moments**: the same {moments_n:,} random moments for every size (the six trigger types in
  equal numbers, stores uniform, products by popularity).
- **Indexed** (what the worker does): `CampaignIndex(first N)` built once (timed), then per
  moment `candidates(type, store)` + `decide(...)`, timed with `time.perf_counter_ns` after 50
  warm-up moments, in {PASSES} passes up to 10,000 campaigns (each moment's figure is its fastest
  pass); above, 1 pass over as many of the moments as fit about {INDEXED_BUDGET_SECONDS:g} s (at
  least 300).
- **Naive**: `decide(all N campaigns, ...)` for as many of the same moments as fit about
  {NAIVE_BUDGET_SECONDS:g} s per size (at least 10, at most 300), in {PASSES} passes up to 10,000
  campaigns and 1 pass above; every one must decide exactly as the indexed path (candidates in
  order, channels, holdout, suppression), or the run stops with an error.
- The curve is plotted to `docs/{IMAGE}` (log-log).

Position evaluation against 1,000 to 1,000,000 geofences has its own section
(`python -m bench --only geofence_scale`).
""",
    )
    rows = []
    for p in points:
        rows.append(
            [
                f"{p.campaigns:,}",
                f"{p.candidates_mean:,.1f} / {p.candidates_max:,}",
                fmt_us(median(p.indexed_us)),
                fmt_us(percentile(p.indexed_us, 99)),
                f"`{p.slowest_type}` {fmt_us(p.slowest_type_p99)}",
                f"{p.index_build_ms:,.1f}",
                f"{len(p.indexed_us):,} × {p.indexed_passes}",
                f"{len(p.naive_us)} × {p.naive_passes}",
                fmt_us(median(p.naive_us)),
                fmt_us(percentile(p.naive_us, 99)),
                f"{p.ratio:,.1f}×",
            ]
        )
    section.tables.append(
        Table(
            [
                "Campaigns",
                "Candidates per moment (mean / max)",
                "Indexed p50 µs",
                "Indexed p99 µs",
                "Slowest type: its p99 µs",
                "Index build ms",
                "Indexed moments × passes",
                "Naive moments × passes",
                "Naive p50 µs",
                "Naive p99 µs",
                "Naive / indexed (mean, same moments)",
            ],
            rows,
            caption="Decision time per moment, by campaign count:",
        )
    )
    section.plot(
        options,
        progress,
        IMAGE,
        "Decision time per moment against the number of active campaigns",
        lambda path: plot(points, path),
    )

    first, last = points[0], points[-1]
    growth = median(last.indexed_us) / median(first.indexed_us)
    slowest = {p.slowest_type for p in points}
    which = (
        "video moments"
        if all(t.startswith("video_") for t in slowest)
        else ", ".join(f"`{t}`" for t in sorted(slowest))
    )
    per_candidate = [sum(p.indexed_us) / len(p.indexed_us) / max(p.candidates_mean, 1e-9) for p in points]
    section.notes.append(
        f"From {first.campaigns:,} to {last.campaigns:,} campaigns ({last.campaigns // first.campaigns:,}×), "
        f"the indexed p50 grows {growth:,.0f}× and the full scan {median(last.naive_us) / median(first.naive_us):,.0f}×. "
        f"The index lists a campaign under its most selective filter (its stores, else its videos, "
        f"products or categories; engine/index.py), so only chain-wide campaigns that filter on none "
        f"of these are candidates for every moment of their type: the candidates still grow with "
        f"those ({last.candidates_max:,} at most at {last.campaigns:,}; the slowest: {which}), "
        f"and the time per candidate grows too ({per_candidate[0]:.2f} µs at {first.campaigns:,}, "
        f"{per_candidate[-1]:.2f} µs at {last.campaigns:,}: more of them pass the filters and are scored "
        "and sorted)."
    )
    section.seconds = time.perf_counter() - started
    return section
