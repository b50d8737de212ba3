"""Deployment package size: ``deployment.zip`` as ``make package`` builds it for prod.

Runs ``python -m infra package --stage prod`` (``chalice package --merge-template`` with the data
stack, then cfn-lint) into a temporary folder and measures the zip: zipped and unzipped bytes,
whether boto3/botocore are bundled (they must not be: the Lambda runtime provides them), and the
largest top-level entries. Targets: <= 5 MB zipped (issue #9) and the build's hard limit of 10 MB.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path

from bench.results import Options, Progress, Section, Table, Target

NAME = "package_size"
TARGET_BYTES = 5 * 1024 * 1024


def run(options: Options, progress: Progress) -> Section:
    from infra.__main__ import MAX_ZIP_BYTES, package

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prod"
        progress("chalice package --stage prod --merge-template (this builds the dependencies)")
        report = package("prod", out)
        with zipfile.ZipFile(out / "deployment.zip") as archive:
            entries = archive.infolist()
    by_top: dict[str, list[int]] = {}
    for entry in entries:
        top = entry.filename.split("/", 1)[0]
        sizes = by_top.setdefault(top, [0, 0])
        sizes[0] += entry.compress_size
        sizes[1] += entry.file_size
    largest = sorted(by_top.items(), key=lambda kv: kv[1][0], reverse=True)[:10]
    zipped, unzipped = report["zip_bytes"], report["unzipped_bytes"]
    section = Section(
        name=NAME,
        title="Deployment package size",
        method=__doc__ or "",
        seconds=time.perf_counter() - started,
    )
    section.targets += [
        Target("`deployment.zip` ≤ 5 MB zipped", f"{zipped / 1e6:.2f} MB", zipped <= TARGET_BYTES),
        Target(
            "the build fails over 10 MB (make package)", f"{zipped / 1e6:.2f} MB", zipped <= MAX_ZIP_BYTES
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
    return section
