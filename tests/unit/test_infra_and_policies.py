"""Static checks of what ops deploy: IAM policies cover exactly what the code calls, the queue's
visibility timeout keeps pace with the worker, and deployed stages carry no demo secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGES = list(CONFIG["stages"])

# boto3 client method -> the IAM actions it needs. A new call must be added here AND to the
# policies, or test_every_aws_call_is_allowed fails.
ACTIONS = {
    "get_item": ["dynamodb:GetItem"],
    "put_item": ["dynamodb:PutItem"],
    "query": ["dynamodb:Query"],
    "batch_write_item": ["dynamodb:BatchWriteItem"],
    "batch_get_item": ["dynamodb:BatchGetItem"],  # the reports' hourly counters
    # TransactWriteItems is authorised per item: Put, Update and ConditionCheck are used.
    "transact_write_items": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
    "send_message": ["sqs:SendMessage"],
    "send_message_batch": ["sqs:SendMessage"],
    "delete_message_batch": ["sqs:DeleteMessage"],
    "get_queue_url": ["sqs:GetQueueUrl"],
    "update_item": ["dynamodb:UpdateItem"],
    "send_email": ["ses:SendEmail"],
    "create_platform_endpoint": ["sns:CreatePlatformEndpoint"],
    "get_endpoint_attributes": ["sns:GetEndpointAttributes"],
    "set_endpoint_attributes": ["sns:SetEndpointAttributes"],
    "delete_endpoint": ["sns:DeleteEndpoint"],
    "publish": ["sns:Publish"],
    "check_if_phone_number_is_opted_out": ["sns:CheckIfPhoneNumberIsOptedOut"],
    "get_parameters_by_path": ["ssm:GetParametersByPath"],
}
# Where AWS offers nothing narrower than "*", and why. Nothing else may use "*".
WILDCARD_RESOURCES = {
    "sns:Publish": "an SMS goes to a phone number, which has no ARN",
    "sns:CheckIfPhoneNumberIsOptedOut": "the action takes no resource",
}
# Resources not named after the stage, and why.
SHARED_RESOURCES = {
    "arn:aws:ses:*:*:identity/*": "the verified sender identity (a domain) is the retailer's, shared by stages",
}
# What Lambda's SQS event source mapping does with the function's role.
EVENT_SOURCE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def client_calls() -> set[str]:
    calls: set[str] = set()
    for path in (ROOT / "chalicelib" / "adapters").glob("*.py"):
        calls |= set(re.findall(r"\b(?:self\._client|client)\.([a-z_]+)\(", path.read_text()))
    return calls


def allowed(stage: str) -> dict[str, list[str]]:
    policy = json.loads((ROOT / ".chalice" / CONFIG["stages"][stage]["iam_policy_file"]).read_text())
    out: dict[str, list[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in statement["Action"]:
            out.setdefault(action, []).extend(resources)
    return out


def test_the_adapters_make_aws_calls_we_know():
    calls = client_calls()
    assert {"transact_write_items", "send_message"} <= calls
    assert calls <= set(ACTIONS), f"map these calls to IAM actions: {calls - set(ACTIONS)}"


@pytest.mark.parametrize("stage", STAGES)
def test_every_aws_call_is_allowed_on_the_stages_own_resources(stage):
    policy = allowed(stage)
    needed = {a for call in client_calls() for a in ACTIONS[call]} | set(EVENT_SOURCE_ACTIONS)
    assert needed <= set(policy), f"{stage} policy lacks {needed - set(policy)}"
    for action in needed:
        for resource in policy[action]:
            if resource == "*":
                assert action in WILDCARD_RESOURCES, f"{action} on * in {stage}"
            elif resource not in SHARED_RESOURCES:
                own = (f"micromoments-{stage}", f"parameter/micromoments/{stage}")
                assert any(o in resource for o in own), f"{action} reaches beyond {stage}: {resource}"


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_allows_nothing_the_code_does_not_call(stage):
    needed = {a for call in client_calls() for a in ACTIONS[call]} | set(EVENT_SOURCE_ACTIONS)
    logs = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert set(allowed(stage)) - needed - logs == set()


@pytest.mark.parametrize("stage", STAGES)
def test_no_policy_grants_wildcard_resources_or_actions(stage):
    for action, resources in allowed(stage).items():
        assert "*" not in action.split(":")[1], action
        assert "*" not in resources or action in WILDCARD_RESOURCES, action


def test_autogen_policy_is_off():
    assert CONFIG["autogen_policy"] is False


def test_queue_visibility_timeout_is_six_times_the_worker_timeout():
    template = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text())
    queue = template["Resources"]["EventsQueue"]["Properties"]
    worker_timeout = CONFIG["lambda_functions"]["process_events"]["lambda_timeout"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5


def test_the_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    matches = lint_file(ROOT / "infra" / "template.yaml")
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_carry_no_demo_secrets(stage):
    env = {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}
    assert "MM_ADMIN_TOKEN" not in env
    assert "MM_QR_SIGNING_KEYS" not in env
    assert "MM_TOKEN_SIGNING_KEY" not in env
    assert "demo" not in json.dumps(env)


def test_every_configured_variable_is_one_the_code_reads():
    source = "".join(
        (ROOT / f).read_text() for f in ("chalicelib/settings.py", "chalicelib/wiring.py", "app.py")
    )
    for stage in STAGES:
        env = {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}
        for name in env:
            if name.startswith("MM_"):
                assert f'"{name}"' in source, f"{name} is configured but never read"
