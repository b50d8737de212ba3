"""Deploy, package, destroy and operate micromoments stages.

  python -m infra deploy  --stage dev|prod [--alarm-email ops@example.com]
  python -m infra package --stage dev|prod [--out build/dev]
  python -m infra destroy --stage dev [--confirm prod]
  python -m infra redrive --stage dev|prod|local

``deploy`` runs, in order: the data stack from infra/template.yaml (create or update), the
stage's secrets in SSM Parameter Store (generated once, never printed), ``chalice deploy``,
the API URL into Parameter Store (for links in messages), and a smoke test that posts one
event through the API and reads its marker from DynamoDB. Uses your normal AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
DEPLOYABLE = ("dev", "prod")
MAX_ZIP_BYTES = 10 * 1024 * 1024
GENERATED_SECRETS = {
    "MM_QR_SIGNING_KEYS": lambda: "A:" + secrets.token_urlsafe(32),
    "MM_TOKEN_SIGNING_KEY": lambda: secrets.token_urlsafe(32),
}


def say(message: str) -> None:
    print(message, flush=True)


def stack_name(stage: str) -> str:
    return f"micromoments-{stage}-data"


def parameter_prefix(stage: str) -> str:
    return f"/micromoments/{stage}"


# -- data stack -----------------------------------------------------------------------------
def deploy_data_stack(
    cloudformation: Any, stage: str, alarm_email: str = "", timeout: float = 1800
) -> dict[str, str]:
    """Create or update the stage's data stack; returns its outputs."""
    name = stack_name(stage)
    parameters = [
        {"ParameterKey": "Stage", "ParameterValue": stage},
        {"ParameterKey": "AlarmEmail", "ParameterValue": alarm_email},
    ]
    try:
        cloudformation.describe_stacks(StackName=name)
        exists = True
    except Exception as exc:  # noqa: BLE001 - ValidationError "does not exist"
        if "does not exist" not in str(exc):
            raise
        exists = False
    if exists:
        try:
            cloudformation.update_stack(
                StackName=name, TemplateBody=TEMPLATE.read_text(), Parameters=parameters
            )
            say(f"- updating stack {name}")
        except Exception as exc:  # noqa: BLE001 - "No updates are to be performed" is success
            if "No updates are to be performed" not in str(exc):
                raise
            say(f"- stack {name} is up to date")
    else:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=TEMPLATE.read_text(),
            Parameters=parameters,
            EnableTerminationProtection=stage == "prod",
        )
        say(f"- creating stack {name}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if status.endswith("FAILED") or "ROLLBACK" in status:
            raise SystemExit(f"stack {name} ended in {status}: {stack.get('StackStatusReason', '')}")
        time.sleep(2)
    raise SystemExit(f"stack {name} not ready after {timeout:.0f} s")


def ensure_secrets(ssm: Any, stage: str) -> list[str]:
    """Create the stage's generated secrets if missing (SecureString); returns the names created."""
    created = []
    for name, make in GENERATED_SECRETS.items():
        path = f"{parameter_prefix(stage)}/{name}"
        try:
            ssm.get_parameter(Name=path)
            continue
        except Exception as exc:  # noqa: BLE001 - ParameterNotFound
            if "ParameterNotFound" not in str(type(exc).__name__) + str(exc):
                raise
        ssm.put_parameter(Name=path, Value=make(), Type="SecureString", Overwrite=False)
        created.append(name)
    return created


def put_setting(ssm: Any, stage: str, name: str, value: str) -> None:
    ssm.put_parameter(Name=f"{parameter_prefix(stage)}/{name}", Value=value, Type="String", Overwrite=True)


# -- chalice ----------------------------------------------------------------------------------
def chalice(*args: str, timeout: float | None = None) -> str:
    """Run the chalice CLI. With ``timeout`` (seconds), it runs in its own process group, which is
    killed whole (pip included) if it takes longer; without, it runs until it ends."""
    command = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())", *args]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=timeout is not None,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise SystemExit(f"chalice {' '.join(args)} timed out after {timeout:g} s") from None
        except BaseException:  # Ctrl-C: stop it, as subprocess.run would
            process.kill()
            raise
    if process.returncode != 0:
        raise SystemExit(f"chalice {' '.join(args)} failed:\n{stdout}\n{stderr}")
    return stdout


def merge_template(stage: str, out_dir: Path) -> Path:
    """infra/template.yaml with the stage baked in and the functions ordered after the
    queue and topic they subscribe to, for ``chalice package --merge-template``."""
    import yaml

    template = yaml.safe_load(TEMPLATE.read_text())
    template["Parameters"]["Stage"]["Default"] = stage
    template["Parameters"]["Stage"]["AllowedValues"] = [stage]
    template["Resources"]["ProcessEvents"] = {"DependsOn": ["EventsQueue"]}
    template["Resources"]["SesFeedback"] = {"DependsOn": ["SesFeedbackTopic"]}
    # chalice 1.34 names the API function APIHandler but its log group refers to ${ApiHandler}
    template["Resources"]["ApiHandlerLogGroup"] = {
        "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "merge-template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def package(stage: str, out_dir: Path, timeout: float | None = None) -> dict[str, Any]:
    """One SAM template (app + data stack) a pipeline can deploy; checked with cfn-lint and for size.
    ``timeout``: seconds ``chalice package`` may take (None: no limit)."""
    from cfnlint.api import lint_file

    work = out_dir / "work"
    merge = merge_template(stage, work)
    env_before = os.environ.get("AWS_DEFAULT_REGION")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice package needs a region name
    try:
        chalice("package", "--stage", stage, "--merge-template", str(merge), str(out_dir), timeout=timeout)
    finally:
        if env_before is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
    sam = out_dir / "sam.yaml"
    problems = [str(m) for m in lint_file(sam)]
    zip_path = out_dir / "deployment.zip"
    size = zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(i.file_size for i in archive.infolist())
        names = archive.namelist()
    report = {
        "template": str(sam),
        "lint_problems": problems,
        "zip_bytes": size,
        "unzipped_bytes": unzipped,
        "bundles_boto3": any(n.startswith(("boto3/", "botocore/")) for n in names),
    }
    say(f"- {sam}: cfn-lint {'clean' if not problems else f'{len(problems)} problem(s)'}")
    say(
        f"- {zip_path}: {size / 1e6:.2f} MB zipped, {unzipped / 1e6:.2f} MB unzipped"
        f"{' (bundles boto3!)' if report['bundles_boto3'] else ', boto3 not bundled'}"
    )
    if problems:
        raise SystemExit("cfn-lint found problems:\n" + "\n".join(problems))
    if size > MAX_ZIP_BYTES:
        raise SystemExit(f"deployment.zip is {size / 1e6:.1f} MB; the limit is {MAX_ZIP_BYTES / 1e6:.0f} MB")
    if report["bundles_boto3"]:
        raise SystemExit("deployment.zip bundles boto3/botocore; the Lambda runtime provides them")
    return report


# -- smoke test -----------------------------------------------------------------------------
def smoke_test(session: Any, stage: str, api_url: str, timeout: float = 60) -> float:
    """Post one event through the API with a smoke-test write key and wait for its marker."""
    import base64
    import hashlib

    ssm = session.client("ssm")
    key_path = f"{parameter_prefix(stage)}/ops/smoke-write-key"
    try:
        write_key = ssm.get_parameter(Name=key_path, WithDecryption=True)["Parameter"]["Value"]
    except Exception:  # noqa: BLE001 - first deploy
        write_key = "mmk_" + secrets.token_urlsafe(32)
        ssm.put_parameter(Name=key_path, Value=write_key, Type="SecureString", Overwrite=True)
    table = f"micromoments-{stage}"
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(
        TableName=table,
        Item={
            "PK": {"S": f"WRITEKEY#{hashlib.sha256(write_key.encode()).hexdigest()}"},
            "SK": {"S": "META"},
            "key_hash": {"S": hashlib.sha256(write_key.encode()).hexdigest()},
            "app_id": {"S": "smoke-test"},
            "name": {"S": "smoke test"},
            "created_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())},
        },
    )
    message_id = f"smoke-{uuid.uuid4()}"
    body = json.dumps({"userId": "smoke-test", "event": "Smoke Test", "messageId": message_id}).encode()
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/v1/track",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        },
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own API
        if response.status != 200:
            raise SystemExit(f"smoke test: POST /v1/track answered {response.status}")
    while time.monotonic() - started < timeout:
        from chalicelib.adapters.dynamodb_moment_store import read_item

        # The worker keeps the event's record in the profile it applied it to.
        if read_item(dynamodb, table, "USER#smoke-test", f"MSG#{message_id}"):
            return time.monotonic() - started
        time.sleep(1)
    raise SystemExit(f"smoke test: event {message_id} was accepted but not processed within {timeout:.0f} s")


# -- redrive -----------------------------------------------------------------------------------
def redrive(sqs: Any, stage: str) -> int:
    """Move every message from the DLQ back to the events queue (after the cause is fixed)."""
    source = sqs.get_queue_url(QueueName=f"micromoments-{stage}-events-dlq")["QueueUrl"]
    target = sqs.get_queue_url(QueueName=f"micromoments-{stage}-events")["QueueUrl"]
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            return moved
        sqs.send_message_batch(
            QueueUrl=target,
            Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)],
        )
        sqs.delete_message_batch(
            QueueUrl=source,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        moved += len(messages)
        say(f"  moved {moved} message(s)")


# -- commands ------------------------------------------------------------------------------------
def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _local_session() -> Any:
    """The local stack's moto (from .devstack/state.json)."""
    import boto3

    state_file = ROOT / ".devstack" / "state.json"
    if not state_file.exists():
        raise SystemExit("the local stack is not running (start it with `make run`)")
    state = json.loads(state_file.read_text())
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{state['moto_port']}"
    return boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description=__doc__.split("\n\n")[0],
        epilog="See README 'Deploying' and 'Operating'.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("deploy", "data stack, secrets, chalice deploy, smoke test"),
        ("package", "one SAM template + deployment.zip for pipelines, linted"),
        ("destroy", "chalice delete, then the data stack (prod needs --confirm prod)"),
        ("redrive", "move the DLQ's messages back to the events queue"),
    ):
        command = sub.add_parser(name, help=help_text)
        stages = ("dev", "prod", "local") if name == "redrive" else DEPLOYABLE
        command.add_argument("--stage", required=True, choices=stages, help=f"one of {', '.join(stages)}")
        if name == "deploy":
            command.add_argument(
                "--alarm-email", default="", help="subscribe this address to the alarm topic"
            )
            command.add_argument("--skip-smoke-test", action="store_true")
        if name == "package":
            command.add_argument("--out", help="output folder (default build/STAGE)")
        if name == "destroy":
            command.add_argument("--confirm", default="", help="must equal the stage name to destroy prod")
    args = parser.parse_args(argv)
    if args.command == "package":
        package(args.stage, Path(args.out) if args.out else ROOT / "build" / args.stage)
        return 0
    if args.command == "redrive":
        session = _local_session() if args.stage == "local" else _session()
        say(f"Redriving micromoments-{args.stage}-events-dlq")
        say(f"- {redrive(session.client('sqs'), args.stage)} message(s) back on the events queue")
        return 0
    if args.command == "destroy":
        if args.stage == "prod" and args.confirm != "prod":
            parser.error("refusing to destroy prod without --confirm prod (CONFIRM=prod with make)")
        session = _session()
        say(f"Destroying stage {args.stage}")
        chalice("delete", "--stage", args.stage)
        cloudformation = session.client("cloudformation")
        cloudformation.delete_stack(StackName=stack_name(args.stage))
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name(args.stage))
        say("- done (SSM parameters under /micromoments/{stage} are kept; delete them by hand if wanted)")
        return 0
    session = _session()
    say(f"Deploying stage {args.stage} to {session.region_name}")
    deploy_data_stack(session.client("cloudformation"), args.stage, args.alarm_email)
    created = ensure_secrets(session.client("ssm"), args.stage)
    say(f"- secrets in Parameter Store: {', '.join(created) + ' created' if created else 'present'}")
    say("- chalice deploy (Lambda functions, API Gateway, SQS and SNS subscriptions)")
    chalice("deploy", "--stage", args.stage)
    api_url = chalice("url", "--stage", args.stage).strip()
    put_setting(session.client("ssm"), args.stage, "MM_PUBLIC_BASE_URL", api_url.rstrip("/"))
    # The worker deletes what succeeded and raises on partial failure, so it is correct with or
    # without ReportBatchItemFailures; nothing else needs configuring after chalice deploy.
    if not args.skip_smoke_test:
        seconds = smoke_test(session, args.stage, api_url)
        say(f"- smoke test: one event in through the API and processed in {seconds:.1f} s")
    say(f"\nAPI: {api_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
