"""Deleting SNS platform endpoints when a user is erased (their ``CustomUserData`` names the
user). ``DeleteEndpoint`` is idempotent in SNS: an endpoint already gone is not an error.

Imports botocore and the adapters' error mapping only; the boto3 ``sns`` client is injected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_code, translated

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
else:
    SNSClient = Any


class SnsEndpoints:
    def __init__(self, client: SNSClient) -> None:
        self._client = client

    def delete(self, endpoint_arn: str) -> None:
        try:
            with translated("DeleteEndpoint"):
                self._client.delete_endpoint(EndpointArn=endpoint_arn)
        except ClientError as exc:
            if error_code(exc) not in ("NotFound", "InvalidParameter"):
                raise
