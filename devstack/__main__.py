"""The local stack: ``python -m devstack run`` (what ``make run`` does).

Starts moto in server mode on 127.0.0.1, deploys infra/template.yaml into it, verifies the SES
sender, seeds the demo, runs ``chalice local --stage local`` and a queue pump that feeds the
worker like Lambda's SQS trigger, prints how to try it, and stops everything on Ctrl-C.
No AWS account is needed or ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.config import DEFAULT_STATE_FILE, FAKE_AWS, ROOT, stage_environment


def _die_with_parent() -> None:
    """Runs in the child before exec (Linux): if the stack's process dies, even by SIGKILL, the
    kernel sends the child SIGTERM, so moto and chalice local never outlive it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass  # not Linux: Ctrl-C still stops everything


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_http(url: str, timeout: float, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def say(message: str = "") -> None:
    print(message, flush=True)


class LocalStack:
    def __init__(
        self, moto_port: int, port: int, autoreload: bool, log_dir: Path | None, state_file: Path
    ) -> None:
        self.state_file = state_file
        self.moto_port = moto_port
        self.port = port
        self.autoreload = autoreload
        self.log_dir = log_dir
        self.moto: subprocess.Popen[Any] | None = None
        self.chalice: subprocess.Popen[Any] | None = None
        self.pump: Any = None
        self.env: dict[str, str] = {}

    # -- start -------------------------------------------------------------------------
    def _output(self, name: str) -> Any:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process

    def start_moto(self) -> None:
        for port, var in ((self.moto_port, "MM_MOTO_PORT"), (self.port, "MM_PORT")):
            if not port_free(port):
                raise SystemExit(f"port {port} on 127.0.0.1 is in use; free it or set {var} to another port")
        say(f"- moto server on http://127.0.0.1:{self.moto_port}")
        out = self._output("moto")
        self.moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            stdout=out or subprocess.DEVNULL,
            stderr=out or subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        wait_http(f"http://127.0.0.1:{self.moto_port}/moto-api/", 30, self.moto)

    def deploy_resources(self) -> dict[str, str]:
        import boto3

        from devstack import stack

        self.env = {
            **FAKE_AWS,
            **stage_environment("local"),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.moto_port}",
            "MM_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",  # links in messages (unsubscribe)
        }
        os.environ.update(self.env)
        outputs = stack.deploy(boto3.client("cloudformation"), "local")
        say(
            f"- resources from infra/template.yaml: table {outputs['TableName']}, queue "
            f"{outputs['EventsQueueUrl'].rsplit('/', 1)[-1]} (+ DLQ), SNS topic"
        )
        self.env["MM_EVENTS_QUEUE_URL"] = outputs["EventsQueueUrl"]
        os.environ["MM_EVENTS_QUEUE_URL"] = outputs["EventsQueueUrl"]
        sender = self.env.get("MM_EMAIL_SENDER", "offers@demo.micromoments.test")
        boto3.client("ses").verify_email_identity(EmailAddress=sender)
        say(f"- SES sender verified: {sender}")
        from devstack.platform_apps import ensure_platform_apps

        apps = ensure_platform_apps(boto3.client("sns"))
        self.env["MM_APNS_PLATFORM_APP_ARN"] = apps["ios"]
        self.env["MM_FCM_PLATFORM_APP_ARN"] = apps["android"]
        os.environ.update(self.env)
        say("- SNS platform applications for push: APNs (sandbox) and FCM")
        return outputs

    def seed(self) -> dict[str, Any]:
        from chalicelib import wiring
        from devstack.seed import seed

        wiring.reset()
        return seed(wiring.container())

    def start_chalice(self) -> None:
        command = [
            sys.executable,
            "-c",
            "import sys; from chalice.cli import main; sys.exit(main())",
            "local",
            "--stage",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if not self.autoreload:
            command.append("--no-autoreload")
        out = self._output("chalice")
        env = {**os.environ, **self.env, "PYTHONWARNINGS": "ignore::UserWarning"}
        self.chalice = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        wait_http(f"http://127.0.0.1:{self.port}/health", 60, self.chalice)
        say(f"- chalice local --stage local on http://127.0.0.1:{self.port}")

    def start_pump(self, outputs: dict[str, str], visibility_timeout: int) -> None:
        import boto3

        import app as app_module
        from devstack.pump import QueuePump

        class Context:
            function_name = "micromoments-local-process_events"
            memory_limit_in_mb = 512
            aws_request_id = "local"
            invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

            @staticmethod
            def get_remaining_time_in_millis() -> int:
                return 30_000

        self.pump = QueuePump(
            boto3.client("sqs"),
            outputs["EventsQueueUrl"],
            outputs["EventsQueueArn"],
            lambda event: app_module.process_events(event, Context()),
            visibility_timeout=visibility_timeout,
        )
        self.pump.start()
        say(
            f"- queue pump feeding the worker (batches of 10; failed messages retry after "
            f"{visibility_timeout} s; the 5th failure goes to the DLQ)"
        )

    # -- stop --------------------------------------------------------------------------
    def stop(self) -> None:
        if self.pump is not None:
            self.pump.stop()
        for process in (self.chalice, self.moto):
            if process is None or process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.state_file.unlink(missing_ok=True)


def banner(port: int, moto_port: int, seeded: dict[str, Any] | None) -> None:
    base = f"http://127.0.0.1:{port}"
    admin = "-H 'Authorization: Bearer demo-admin-token'"
    say()
    say("micromoments local stack is ready. Try it (demo write key: demo-write-key):")
    say()
    say("  # 1. who alice is and how she may be contacted")
    say(
        f'  curl -u demo-write-key: {base}/v1/identify -d \'{{"userId":"alice","traits":'
        f'{{"email":"alice@example.com","first_name":"Alice","timezone":"America/Los_Angeles",'
        f'"consents":{{"email":true,"push":true}}}}}}\''
    )
    say("  # 2. her phone registers for push (any token works locally)")
    say(
        f'  curl -u demo-write-key: {base}/v1/devices -d \'{{"userId":"alice","platform":"ios",'
        f'"token":"demo-apns-token-0001"}}\''
    )
    say("  # 3. she walks into the coffee shop's geofence: a push offer follows within a second")
    say(
        f'  curl -u demo-write-key: {base}/v1/track -d \'{{"userId":"alice","event":'
        f'"Geofence Entered","properties":{{"store_id":"store-001","latitude":37.7936,'
        f'"longitude":-122.3958,"accuracy_m":10}}}}\''
    )
    say("  # 4. what was decided and why, and her profile")
    say(f"  curl {admin} {base}/admin/users/alice/offers")
    say(f"  curl {admin} {base}/admin/users/alice")
    say("  # several events in one call, as analytics SDKs send them")
    say(
        f'  curl -u demo-write-key: {base}/v1/batch -d \'{{"batch":[{{"type":"track","userId":'
        f'"alice","event":"Product Viewed","properties":{{"product_id":"linen-shirt-blue",'
        f'"category":"shirts"}}}}]}}\''
    )
    if seeded:
        for qr in seeded["qr_codes"]:
            say(f"  # QR code at {qr['store_id']} ({qr['placement']}): 302 to {qr['destination']}")
            say(f"  curl -i -A 'Mozilla/5.0 (iPhone)' -H 'Accept-Language: en' {base}/q/{qr['code']}")
        tampered = seeded["qr_codes"][0]["code"]
        tampered = tampered[:-1] + ("A" if tampered[-1] != "A" else "B")
        say("  # a tampered code: 404 page, nothing recorded")
        say(f"  curl -i -A 'Mozilla/5.0 (iPhone)' -H 'Accept-Language: en' {base}/q/{tampered}")
    say()
    say(
        f"  What SES/SNS sent: http://127.0.0.1:{moto_port}/moto-api/data.json   "
        f"(reset: curl -X POST http://127.0.0.1:{moto_port}/moto-api/reset)"
    )
    say("  A scripted shopper's day: make demo      Ctrl-C stops everything.")
    say()


def run(args: argparse.Namespace) -> int:
    stack = LocalStack(
        args.moto_port,
        args.port,
        args.autoreload,
        Path(args.log_dir) if args.log_dir else None,
        Path(args.state_file),
    )

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        say("Starting the micromoments local stack (no AWS account is used)")
        stack.start_moto()
        outputs = stack.deploy_resources()
        seeded = None
        if not args.no_seed:
            seeded = stack.seed()
            say(
                f"- demo seeded: app key demo-write-key, {len(seeded['stores'])} stores, "
                f"{len(seeded['qr_codes'])} QR codes"
            )
        stack.start_chalice()
        stack.start_pump(outputs, args.visibility_timeout)
        stack.state_file.parent.mkdir(parents=True, exist_ok=True)
        stack.state_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "port": args.port,
                    "moto_port": args.moto_port,
                    "outputs": outputs,
                    "qr_codes": seeded["qr_codes"] if seeded else [],
                },
                indent=2,
            )
        )
        banner(args.port, args.moto_port, seeded)
        if args.print_ready:
            say("READY")
        while True:
            for name, process in (("chalice local", stack.chalice), ("moto", stack.moto)):
                if process is not None and process.poll() is not None:
                    say(f"{name} exited with code {process.returncode}; stopping")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("\nStopping...")
        return 0
    finally:
        stack.stop()
        say("Stopped: moto, chalice local and the pump are down.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="The micromoments local stack: moto server + chalice local + queue pump, "
        "with the resources from infra/ and a seeded demo. No AWS account needed.",
    )
    sub = parser.add_subparsers(dest="command")
    run_parser = sub.add_parser("run", help="start everything and wait for Ctrl-C (what `make run` does)")
    run_parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MM_PORT", "8000")),
        help="chalice local port on 127.0.0.1 (env MM_PORT, default 8000)",
    )
    run_parser.add_argument(
        "--moto-port",
        type=int,
        default=int(os.environ.get("MM_MOTO_PORT", "5000")),
        help="moto server port on 127.0.0.1 (env MM_MOTO_PORT, default 5000)",
    )
    run_parser.add_argument("--no-seed", action="store_true", help="do not write the demo data")
    run_parser.add_argument(
        "--no-autoreload",
        dest="autoreload",
        action="store_false",
        help="do not restart chalice local when code changes",
    )
    run_parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=5,
        help="seconds before a failed message is retried locally (default 5; the deployed queue uses 180)",
    )
    run_parser.add_argument(
        "--log-dir",
        help="write moto and chalice output to files in this folder (default: inherit this terminal)",
    )
    run_parser.add_argument(
        "--state-file",
        default=str(DEFAULT_STATE_FILE),
        help="where to write ports, resource names and QR codes while running "
        "(default .devstack/state.json; removed on exit)",
    )
    run_parser.add_argument("--print-ready", action="store_true", help="print READY when up (for scripts)")
    args = parser.parse_args(argv)
    if args.command != "run":
        parser.print_help()
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
