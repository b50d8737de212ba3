"""docs/openapi.yaml describes exactly the routes app.py serves, and is a valid OpenAPI 3 document."""

from __future__ import annotations

from pathlib import Path

import yaml

import app as app_module

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def spec() -> dict:
    return yaml.safe_load(SPEC.read_text())


def test_the_spec_lists_exactly_the_apps_routes_and_methods():
    documented = {
        (path, method.upper())
        for path, item in spec()["paths"].items()
        for method in item
        if method in METHODS
    }
    served = {(path, method) for path, methods in app_module.app.routes.items() for method in methods}
    assert documented - served == set(), "documented but not served"
    assert served - documented == set(), "served but not in docs/openapi.yaml"


def test_the_spec_is_valid_openapi_3():
    from openapi_spec_validator import validate

    validate(spec())


def test_admin_operations_need_admin_credentials_in_the_spec():
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method in METHODS and path.startswith("/admin"):
                assert operation.get("security") == [{"admin": []}], f"{method} {path}"
