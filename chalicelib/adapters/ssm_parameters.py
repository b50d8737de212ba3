"""Deployed stages keep secrets and deployment-specific values in SSM Parameter Store under
``MM_SSM_PARAMETER_PREFIX`` (e.g. ``/micromoments/prod/MM_TOKEN_SIGNING_KEY``, SecureString),
never in config files. They are read once per cold start; environment variables win."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws_errors import translated


def load_parameters(client: Any, prefix: str) -> dict[str, str]:
    """``{name: value}`` for every parameter directly under ``prefix`` (decrypted)."""
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        request: dict[str, Any] = {"Path": prefix.rstrip("/"), "Recursive": False, "WithDecryption": True}
        if token:
            request["NextToken"] = token
        with translated("GetParametersByPath"):
            page = client.get_parameters_by_path(**request)
        for parameter in page.get("Parameters", []):
            found[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
        token = page.get("NextToken")
        if not token:
            return found
