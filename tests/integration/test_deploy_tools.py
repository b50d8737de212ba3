"""The ops tooling (`python -m infra`, behind make deploy/package/destroy/redrive) against moto:
the data stack deploys and updates from infra/template.yaml, secrets are generated once, the app
reads its settings from Parameter Store, and the DLQ can be redriven. Packaging runs chalice
package + cfn-lint for both deployed stages."""

from __future__ import annotations

import json
import os
import zipfile

import boto3
import pytest
from moto import mock_aws

import infra.__main__ as infra
from chalicelib import wiring

CONFIG = json.loads((infra.ROOT / ".chalice" / "config.json").read_text())


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_data_stack_deploys_updates_and_names_what_the_config_uses(aws, stage):
    cloudformation = aws.client("cloudformation")
    outputs = infra.deploy_data_stack(cloudformation, stage)
    env = {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}
    assert outputs["TableName"] == env["MM_TABLE_NAME"]
    assert outputs["EventsQueueName"] == env["MM_EVENTS_QUEUE_NAME"]
    assert outputs["SesFeedbackTopicName"] == env["MM_SES_FEEDBACK_TOPIC_NAME"]
    # moto's CloudFormation skips SES configuration sets: check the template's name for it instead
    import yaml

    template = yaml.safe_load(infra.TEMPLATE.read_text())
    name = template["Resources"]["EmailConfigurationSet"]["Properties"]["Name"]["Fn::Sub"]
    assert name.replace("${Stage}", stage) == env["MM_SES_CONFIGURATION_SET"]
    assert infra.deploy_data_stack(cloudformation, stage) == outputs  # a second deploy is an update
    table = aws.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert template["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "ttl",
        "Enabled": True,
    }  # moto's CloudFormation ignores it; see devstack.stack
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=outputs["EventsQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    assert (
        int(attributes["VisibilityTimeout"])
        >= 6 * CONFIG["lambda_functions"]["process_events"]["lambda_timeout"]
    )


def test_secrets_are_generated_once_and_the_app_reads_its_settings_from_parameter_store(aws, monkeypatch):
    ssm = aws.client("ssm")
    assert infra.ensure_secrets(ssm, "dev") == ["MM_QR_SIGNING_KEYS", "MM_TOKEN_SIGNING_KEY"]
    first = ssm.get_parameter(Name="/micromoments/dev/MM_TOKEN_SIGNING_KEY", WithDecryption=True)
    assert infra.ensure_secrets(ssm, "dev") == []
    again = ssm.get_parameter(Name="/micromoments/dev/MM_TOKEN_SIGNING_KEY", WithDecryption=True)
    assert first["Parameter"]["Value"] == again["Parameter"]["Value"]
    assert first["Parameter"]["Type"] == "SecureString"
    infra.put_setting(ssm, "dev", "MM_PUBLIC_BASE_URL", "https://api.example.com/api")

    for name, value in CONFIG["stages"]["dev"]["environment_variables"].items():
        monkeypatch.setenv(name, value)
    for name in ("MM_ADMIN_TOKEN", "MM_QR_SIGNING_KEYS", "MM_TOKEN_SIGNING_KEY", "MM_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    settings = wiring.container().settings
    assert settings.stage == "dev" and settings.deployed
    assert settings.token_signing_key == first["Parameter"]["Value"].encode()
    assert settings.public_base_url == "https://api.example.com/api"
    assert list(settings.qr_signing_keys) == ["A"]


def test_an_environment_variable_wins_over_parameter_store(aws, monkeypatch):
    ssm = aws.client("ssm")
    infra.ensure_secrets(ssm, "dev")
    infra.put_setting(ssm, "dev", "MM_GLOBAL_DAILY_CAP", "9")
    for name, value in CONFIG["stages"]["dev"]["environment_variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MM_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("MM_GLOBAL_DAILY_CAP", "2")
    wiring.reset()
    assert wiring.container().settings.global_daily_cap == 2


def test_redrive_moves_the_dlq_back(aws):
    outputs = infra.deploy_data_stack(aws.client("cloudformation"), "dev")
    sqs = aws.client("sqs")
    for i in range(13):
        sqs.send_message(QueueUrl=outputs["EventsDeadLetterQueueUrl"], MessageBody=f"m{i}")
    assert infra.redrive(sqs, "dev") == 13
    bodies = []
    while batch := sqs.receive_message(QueueUrl=outputs["EventsQueueUrl"], MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=outputs["EventsQueueUrl"],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    assert sorted(bodies) == sorted(f"m{i}" for i in range(13))


@pytest.mark.parametrize(
    "argv", [["deploy", "--stage", "staging"], ["destroy", "--stage", "prod"], ["redrive", "--stage", "qa"]]
)
def test_unknown_stages_and_unconfirmed_prod_destroy_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        infra.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "stage" in err or "--confirm prod" in err


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_package_merges_the_data_stack_lints_clean_and_stays_small(stage, tmp_path):
    report = infra.package(stage, tmp_path)
    assert report["lint_problems"] == []
    assert report["zip_bytes"] < infra.MAX_ZIP_BYTES
    assert not report["bundles_boto3"]
    sam = (tmp_path / "sam.yaml").read_text()
    assert "AWS::DynamoDB::Table" in sam and "AWS::Serverless::Function" in sam
    with zipfile.ZipFile(tmp_path / "deployment.zip") as archive:
        assert "app.py" in archive.namelist()
        assert not any(n.startswith("tests/") or n.startswith("devstack/") for n in archive.namelist())
    assert os.environ.get("AWS_DEFAULT_REGION") == "us-east-1"  # conftest's, untouched
