"""settings.py: typed settings from the environment, failing fast and naming every problem."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.settings import Settings, SettingsError
from tests.unit.builders import env

REQUIRED = ("MM_STAGE", "MM_TABLE_NAME", "MM_EVENTS_QUEUE_NAME", "MM_QR_SIGNING_KEYS", "MM_TOKEN_SIGNING_KEY")


def problems(environment: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environment)
    return str(caught.value)


def test_given_a_complete_local_environment_then_settings_are_typed_with_defaults():
    s = Settings.from_env(env(MM_PUBLIC_BASE_URL="https://mm.example.com/", AWS_REGION="eu-west-1"))

    assert (s.stage, s.table_name, s.events_queue_name, s.admin_token) == ("local", "t", "q", "tok")
    assert s.qr_signing_keys == {"A": b"0123456789abcdef0123"} and s.qr_signing_kid == "A"
    assert s.deployed is False
    assert s.public_base_url == "https://mm.example.com"
    assert s.region == "eu-west-1"
    assert (s.affinity_half_life, s.message_ttl, s.cache_ttl_seconds, s.stat_shards) == (
        timedelta(days=7),
        timedelta(days=30),
        60.0,
        4,
    )


def test_given_an_empty_environment_then_every_missing_variable_is_named_at_once():
    message = problems({})

    for name in REQUIRED:
        assert f"{name} is not set" in message


def test_given_several_problems_then_all_are_named_at_once():
    message = problems(env(MM_TABLE_NAME="  ", MM_ADMIN_TOKEN=None, MM_STAT_SHARDS="many"))

    assert "MM_TABLE_NAME is not set" in message
    assert "MM_ADMIN_TOKEN is not set" in message
    assert "MM_STAT_SHARDS must be a number" in message


def test_given_the_local_stage_without_an_admin_token_then_it_is_refused():
    assert "MM_ADMIN_TOKEN" in problems(env(MM_ADMIN_TOKEN=None))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_given_a_deployed_stage_with_an_admin_token_then_it_is_refused(stage):
    assert "MM_ADMIN_TOKEN must not be set in a deployed stage" in problems(env(MM_STAGE=stage))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_given_a_deployed_stage_without_an_admin_token_then_it_uses_iam(stage):
    s = Settings.from_env(env(MM_STAGE=stage, MM_ADMIN_TOKEN=None))

    assert s.deployed is True and s.admin_token is None


def test_given_an_unknown_stage_then_it_is_refused():
    assert "MM_STAGE must be one of local, dev, prod" in problems(env(MM_STAGE="staging"))


def test_given_several_signing_keys_then_the_first_signs_and_all_verify():
    s = Settings.from_env(env(MM_QR_SIGNING_KEYS=" b:new-secret-0123456789 , A:0123456789abcdef0123"))

    assert s.qr_signing_kid == "B"
    assert s.qr_signing_keys == {"B": b"new-secret-0123456789", "A": b"0123456789abcdef0123"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A:short", "key A must be at least 16 characters"),
        ("A:0123456789abcde", "key A must be at least 16 characters"),
        ("0123456789abcdef0123", "entries must look like 'A:secret'"),
        ("1:0123456789abcdef0123", "entries must look like 'A:secret'"),
        ("AB:0123456789abcdef0123", "entries must look like 'A:secret'"),
        ("B:0123456789abcdef0123,C:tiny", "key C must be at least 16 characters"),
    ],
)
def test_given_a_bad_signing_key_entry_then_it_is_refused(raw, expected):
    assert expected in problems(env(MM_QR_SIGNING_KEYS=raw))


def test_given_signing_keys_with_no_entry_then_it_is_refused():
    assert "MM_QR_SIGNING_KEYS" in problems(env(MM_QR_SIGNING_KEYS=" , "))


def test_given_the_same_kid_twice_then_it_is_refused():
    assert "MM_QR_SIGNING_KEYS" in problems(
        env(MM_QR_SIGNING_KEYS="A:new-secret-0123456789,A:0123456789abcdef0123")
    )


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("MM_AFFINITY_HALF_LIFE_DAYS", "0", "must be at least 0.01"),
        ("MM_MESSAGE_TTL_DAYS", "0.5", "must be at least 1"),
        ("MM_CACHE_TTL_SECONDS", "-1", "must be at least 0"),
        ("MM_STAT_SHARDS", "0", "must be at least 1"),
        ("MM_STAT_SHARDS", "four", "must be a number"),
    ],
)
def test_given_a_number_out_of_range_then_the_variable_is_named(name, raw, expected):
    assert f"{name} {expected}" in problems(env(**{name: raw}))


@pytest.mark.parametrize(
    ("name", "raw"),
    [("MM_STAT_SHARDS", "nan"), ("MM_AFFINITY_HALF_LIFE_DAYS", "inf"), ("MM_CACHE_TTL_SECONDS", "nan")],
)
def test_given_a_number_that_is_not_finite_then_the_variable_is_named(name, raw):
    assert name in problems(env(**{name: raw}))


def test_given_numbers_then_they_are_typed():
    s = Settings.from_env(
        env(
            MM_AFFINITY_HALF_LIFE_DAYS="1.5",
            MM_MESSAGE_TTL_DAYS="2",
            MM_CACHE_TTL_SECONDS="0",
            MM_STAT_SHARDS="8",
            MM_EVENTS_QUEUE_URL="https://sqs.example/q",
        )
    )

    assert s.affinity_half_life == timedelta(days=1.5)
    assert s.message_ttl == timedelta(days=2)
    assert s.cache_ttl_seconds == 0.0
    assert s.stat_shards == 8
    assert s.events_queue_url == "https://sqs.example/q"
