"""Shared test setup: fake AWS credentials (never a real account) and a clean composition root."""

from __future__ import annotations

import os

import pytest

# Before anything imports boto3: no test may ever reach a real AWS account.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture(autouse=True)
def _fresh_wiring():
    from chalicelib import wiring

    wiring.reset()
    yield
    wiring.reset()
