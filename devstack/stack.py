"""Deploy ``infra/template.yaml`` into (moto's) CloudFormation and read its outputs.

One source of truth: the local stack, the integration tests and AWS all get their table,
queues and topics from the same template.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"


def stack_name(stage: str) -> str:
    return f"micromoments-{stage}-data"


def deploy(cloudformation: Any, stage: str = "local", timeout: float = 60) -> dict[str, str]:
    """Create (or reuse) the data stack for ``stage`` and return its outputs by key."""
    name = stack_name(stage)
    existing = _outputs(cloudformation, name)
    if existing is not None:
        return existing
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if status.endswith("FAILED") or status.startswith("ROLLBACK"):
            raise RuntimeError(f"stack {name} failed: {status} {stack.get('StackStatusReason', '')}")
        time.sleep(0.2)
    raise TimeoutError(f"stack {name} not created within {timeout} s")


def _outputs(cloudformation: Any, name: str) -> dict[str, str] | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception:  # noqa: BLE001 - "does not exist" is a ClientError; anything else re-raises below
        return None
    if not stacks or stacks[0]["StackStatus"] != "CREATE_COMPLETE":
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
