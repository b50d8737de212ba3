"""use_cases/authenticate.py: SDK write keys (HTTP Basic) and admin callers."""

from __future__ import annotations

import base64

import pytest

from chalicelib.adapters.in_memory import InMemoryAppKeys
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.records import AppKey, hash_write_key
from chalicelib.settings import DEMO_ADMIN_TOKEN, DEMO_WRITE_KEY
from chalicelib.use_cases.authenticate import AdminAuthenticator, WriteKeyAuthenticator
from tests.unit.builders import basic_auth, deployed_settings, settings

WRITE_KEY = "mmk_live_0123456789"


def keys_with(*app_keys: AppKey) -> InMemoryAppKeys:
    keys = InMemoryAppKeys()
    for app_key in app_keys:
        keys.put(app_key)
    return keys


def app_key(write_key: str = WRITE_KEY, app_id: str = "shop-app", revoked: bool = False) -> AppKey:
    return AppKey(hash_write_key(write_key), app_id, "Shop app", "2026-11-01T00:00:00.000+00:00", revoked)


# --- Write keys -------------------------------------------------------------------------------


def test_given_a_known_write_key_in_basic_auth_then_its_app_is_returned():
    auth = WriteKeyAuthenticator(keys_with(app_key()), settings())

    assert auth.app_for(basic_auth(WRITE_KEY)) == "shop-app"
    assert auth.app_for({"authorization": basic_auth(WRITE_KEY)["Authorization"]}) == "shop-app"
    assert auth.app_for(basic_auth(WRITE_KEY, "ignored-password")) == "shop-app"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": f"Bearer {WRITE_KEY}"},
        {"Authorization": "Basic"},
        {"Authorization": "Basic    "},
        {"Authorization": "Basic not*base64!"},
        {"Authorization": "Basic " + b64(b":password-only")},
        {"Authorization": "Basic " + b64(b"k" * 201 + b":")},
        {"Authorization": "Basic " + b64(b"\xff\xfe:")},
    ],
    ids=[
        "missing",
        "empty",
        "bearer",
        "no-credentials",
        "blank-credentials",
        "not-base64",
        "no-username",
        "too-long",
        "not-utf8",
    ],
)
def test_given_malformed_basic_credentials_then_unauthorized_without_a_lookup(headers):
    keys = keys_with(app_key())

    with pytest.raises(Unauthorized):
        WriteKeyAuthenticator(keys, settings()).app_for(headers)

    assert keys.reads == 0


def test_given_non_ascii_basic_credentials_then_unauthorized():
    with pytest.raises(Unauthorized):
        WriteKeyAuthenticator(keys_with(app_key()), settings()).app_for({"Authorization": "Basic clé=="})


def test_given_an_unknown_write_key_then_unauthorized():
    with pytest.raises(Unauthorized):
        WriteKeyAuthenticator(keys_with(app_key()), settings()).app_for(basic_auth("mmk_guess"))


def test_given_a_revoked_write_key_then_unauthorized():
    with pytest.raises(Unauthorized):
        WriteKeyAuthenticator(keys_with(app_key(revoked=True)), settings()).app_for(basic_auth(WRITE_KEY))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_given_the_demo_write_key_in_a_deployed_stage_then_unauthorized_even_if_stored(stage):
    keys = keys_with(app_key(DEMO_WRITE_KEY, "demo"))

    with pytest.raises(Unauthorized, match="local"):
        WriteKeyAuthenticator(keys, deployed_settings(stage)).app_for(basic_auth(DEMO_WRITE_KEY))
    assert keys.reads == 0


def test_given_the_demo_write_key_in_the_local_stage_then_it_works_once_seeded():
    keys = keys_with(app_key(DEMO_WRITE_KEY, "demo"))

    assert WriteKeyAuthenticator(keys, settings()).app_for(basic_auth(DEMO_WRITE_KEY)) == "demo"


def test_given_a_known_key_when_used_twice_then_the_repository_is_read_once():
    keys = keys_with(app_key())
    auth = WriteKeyAuthenticator(keys, settings())

    auth.app_for(basic_auth(WRITE_KEY))
    auth.app_for(basic_auth(WRITE_KEY))

    assert keys.reads == 1


def test_given_an_unknown_key_when_tried_twice_then_the_repository_is_read_once():
    keys = keys_with()
    auth = WriteKeyAuthenticator(keys, settings())

    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth.app_for(basic_auth("mmk_guess"))

    assert keys.reads == 1


# --- Admin ------------------------------------------------------------------------------------


def test_given_the_local_stage_and_the_bearer_token_then_the_admin_is_let_in():
    assert AdminAuthenticator(settings()).check({"Authorization": "Bearer tok"}, {}) == "admin"
    assert AdminAuthenticator(settings()).check({"authorization": "bearer  tok "}, {}) == "admin"


def test_given_the_local_stage_with_the_demo_token_then_the_caller_is_the_local_admin():
    auth = AdminAuthenticator(settings(MM_ADMIN_TOKEN=DEMO_ADMIN_TOKEN))

    assert auth.check({"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}, {}) == "local-admin"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer tok2"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic tok"},
        {"Authorization": "tok"},
    ],
)
def test_given_the_local_stage_without_the_right_bearer_token_then_unauthorized(headers):
    with pytest.raises(Unauthorized):
        AdminAuthenticator(settings()).check(headers, {})


def test_given_a_deployed_stage_with_an_iam_identity_then_the_caller_is_its_arn():
    arn = "arn:aws:iam::123456789012:user/ops"

    assert AdminAuthenticator(deployed_settings()).check({}, {"identity": {"userArn": arn}}) == arn


@pytest.mark.parametrize(
    "context", [{}, {"identity": None}, {"identity": {}}, {"identity": {"userArn": None, "caller": None}}]
)
def test_given_a_deployed_stage_without_an_iam_identity_then_unauthorized(context):
    with pytest.raises(Unauthorized, match="IAM"):
        AdminAuthenticator(deployed_settings()).check({}, context)


@pytest.mark.parametrize("token", ["tok", DEMO_ADMIN_TOKEN])
def test_given_a_deployed_stage_then_a_bearer_token_is_not_accepted_instead_of_iam(token):
    with pytest.raises(Unauthorized):
        AdminAuthenticator(deployed_settings()).check({"Authorization": f"Bearer {token}"}, {})
