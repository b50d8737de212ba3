"""Deploy ``infra/template.yaml`` into (moto's) CloudFormation and read its outputs.

One source of truth: the local stack, the integration tests and AWS all get their table,
queues and topics from the same template.
"""

from __future__ import annotations

import contextlib
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
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            outputs.update(apply_what_moto_skips(stage, outputs))
            return outputs
        if status.endswith("FAILED") or status.startswith("ROLLBACK"):
            raise RuntimeError(f"stack {name} failed: {status} {stack.get('StackStatusReason', '')}")
        time.sleep(0.2)
    raise TimeoutError(f"stack {name} not created within {timeout} s")


def apply_what_moto_skips(stage: str, outputs: dict[str, str]) -> dict[str, str]:
    """moto's CloudFormation ignores the table's TimeToLiveSpecification and SES configuration
    sets: apply those from the same template through the service APIs, so local behaves like
    AWS. Alarms and topic policies have no local effect and are left out."""
    import boto3
    import yaml

    template = yaml.safe_load(TEMPLATE.read_text())
    resources = template["Resources"]
    extra: dict[str, str] = {}
    ttl = resources["Table"]["Properties"].get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        boto3.client("dynamodb").update_time_to_live(
            TableName=outputs["TableName"],
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    for resource in resources.values():
        if resource["Type"] == "AWS::SES::ConfigurationSet":
            name = resource["Properties"]["Name"]["Fn::Sub"].replace("${Stage}", stage)
            sesv2 = boto3.client("sesv2")
            with contextlib.suppress(sesv2.exceptions.AlreadyExistsException):
                sesv2.create_configuration_set(ConfigurationSetName=name)
            extra["EmailConfigurationSetName"] = name
    return extra


def _outputs(cloudformation: Any, name: str) -> dict[str, str] | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception:  # noqa: BLE001 - "does not exist" is a ClientError; anything else re-raises below
        return None
    if not stacks or stacks[0]["StackStatus"] != "CREATE_COMPLETE":
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
