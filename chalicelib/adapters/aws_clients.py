"""boto3 client construction, kept in the adapters package (the only boto3 importer)."""

from __future__ import annotations

from typing import Any


def make_client(
    service: str, *, region: str, max_attempts: int, read_timeout: float, connect_timeout: float = 2
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=20,
    )
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
