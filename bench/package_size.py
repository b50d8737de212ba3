"""Deployment package size: ``deployment.zip`` as ``make package`` builds it for prod.

Runs ``python -m infra package --stage prod`` (``chalice package --merge-template`` with the data
stack, then cfn-lint) into a temporary folder, bounded in time, and measures the zip: zipped and
unzipped bytes, whether boto3/botocore are bundled (they must not be: the Lambda runtime provides
them), and the largest top-level entries. Targets: <= 5 MB zipped (issue #9; decimal megabytes,
5,000,000 bytes, like the figures below) and the build's hard limit, which ``make package``
sets at 10 MiB (10,485,760 bytes).
"""

from __future__ import annotations

import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

from bench.results import Options, Progress, Section, Table, Target

NAME = "package_size"
TARGET_BYTES = 5_000_000  # 5 MB
BUILD_TIMEOUT_SECONDS = 300.0  # chalice package installs the dependencies; a hung pip must not hang the run


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def run(options: Options, progress: Progress) -> Section:
    from infra.__main__ import MAX_ZIP_BYTES, package

    started = time.perf_counter()
    section = Section(name=NAME, title="Deployment package size", method=__doc__ or "")
    build = f"`python -m infra package --stage prod` succeeds within {BUILD_TIMEOUT_SECONDS:.0f} s"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prod"
        progress(
            "chalice package --stage prod --merge-template (this builds the dependencies; "
            f"stopped after {BUILD_TIMEOUT_SECONDS:.0f} s)"
        )
        try:
            report = package("prod", out, timeout=BUILD_TIMEOUT_SECONDS)
        except SystemExit as failure:  # infra's way of failing: a timeout, chalice, cfn-lint or a limit
            message = str(failure.code).strip().splitlines()[0] if failure.code else "failed"
            progress(f"package failed: {message}")
            section.targets.append(Target(build, f"failed: {message}", False))
            output = textwrap.indent(f"```\n{str(failure.code).strip()}\n```", "  ")
            section.notes.append(
                f"`python -m infra package --stage prod` failed, so nothing was measured:\n\n{output}"
            )
            section.seconds = time.perf_counter() - started
            return section
        with zipfile.ZipFile(out / "deployment.zip") as archive:
            entries = archive.infolist()
    built_s = time.perf_counter() - started
    by_top: dict[str, list[int]] = {}
    for entry in entries:
        top = entry.filename.split("/", 1)[0]
        sizes = by_top.setdefault(top, [0, 0])
        sizes[0] += entry.compress_size
        sizes[1] += entry.file_size
    largest = sorted(by_top.items(), key=lambda kv: kv[1][0], reverse=True)[:10]
    zipped, unzipped = report["zip_bytes"], report["unzipped_bytes"]
    section.targets += [
        Target(build, f"{built_s:.1f} s", True),
        Target(
            f"`deployment.zip` ≤ {TARGET_BYTES / 1e6:g} MB ({TARGET_BYTES:,} bytes) zipped",
            _mb(zipped),
            zipped <= TARGET_BYTES,
        ),
        Target(
            f"under the build's hard limit (`make package` fails over {MAX_ZIP_BYTES / 2**20:g} MiB, "
            f"{MAX_ZIP_BYTES:,} bytes = {_mb(MAX_ZIP_BYTES)})",
            _mb(zipped),
            zipped <= MAX_ZIP_BYTES,
        ),
        Target(
            "boto3/botocore not bundled",
            "not bundled" if not report["bundles_boto3"] else "bundled",
            not report["bundles_boto3"],
        ),
        Target(
            "merged SAM template passes cfn-lint",
            f"{len(report['lint_problems'])} problem(s)",
            not report["lint_problems"],
        ),
    ]
    section.tables.append(
        Table(
            ["Measure", "Bytes", "MB"],
            [
                ["zipped", f"{zipped:,}", f"{zipped / 1e6:.2f}"],
                ["unzipped", f"{unzipped:,}", f"{unzipped / 1e6:.2f}"],
                ["files", f"{len(entries):,}", ""],
            ],
            caption="MB = 1,000,000 bytes:",
        )
    )
    sources = [e.filename for e in entries if e.filename.endswith(".py")]
    compiled = [e.filename for e in entries if e.filename.endswith(".pyc")]
    compiled_tops = sorted({name.split("/", 1)[0] for name in compiled})
    section.tables.append(
        Table(
            ["Python files in the zip", "Count", "Where"],
            [
                [
                    ".py (compiled by Lambda on every cold start unless a matching .pyc ships)",
                    f"{len(sources):,}",
                    "",
                ],
                [".pyc", f"{len(compiled):,}", ", ".join(f"`{t}`" for t in compiled_tops) or "—"],
            ],
        )
    )
    if compiled:
        section.notes.append(
            f"The zip holds {len(compiled)} `.pyc` file(s), all under {', '.join(f'`{t}/`' for t in compiled_tops)}: "
            "Chalice zips `chalicelib/` as it finds it, `__pycache__` included, so what ships depends on "
            "what was run in the working tree before packaging (and a stale `.pyc` is ignored). Nothing "
            "else ships compiled; see the cold-import benchmark's 'as on Lambda' figures for the cost."
        )
    section.tables.append(
        Table(
            ["Top-level entry", "Zipped KB", "Unzipped KB"],
            [[f"`{name}`", f"{sizes[0] / 1e3:,.0f}", f"{sizes[1] / 1e3:,.0f}"] for name, sizes in largest],
            caption="Largest entries:",
        )
    )
    section.seconds = time.perf_counter() - started
    return section
