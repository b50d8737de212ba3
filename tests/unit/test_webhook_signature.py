"""The video platform webhook's signature: HMAC-SHA256 over "{t}.{raw body}", constant-time
comparison, several v1 values while a secret rotates, and replays older than 5 minutes refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from chalicelib.domain.webhook_signature import InvalidSignature, sign, verify

SECRET = b"a-webhook-secret-of-some-length"
BODY = b'{"userId":"u1","video_id":"v1","percent":50}'
T = 1_718_200_000


def test_a_signature_over_t_and_the_raw_body_is_accepted():
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == f"t={T},v1={expected}"
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + 10) == T


@pytest.mark.parametrize(
    ("header", "body", "now", "message"),
    [
        (None, BODY, T, "missing X-MM-Signature"),
        ("", BODY, T, "missing X-MM-Signature"),
        ("v1=abc", BODY, T, "no t="),
        (f"t={T}", BODY, T, "no v1="),
        (f"t=soon,v1={'0' * 64}", BODY, T, "no t="),
        (sign(SECRET, T, BODY), BODY + b" ", T, "does not match"),
        (sign(b"another-secret-entirely", T, BODY), BODY, T, "does not match"),
        (sign(SECRET, T, BODY).replace(f"t={T}", f"t={T + 1}"), BODY, T, "does not match"),
        (sign(SECRET, T, BODY), BODY, T + 301, "older than 300 s"),
        (sign(SECRET, T, BODY), BODY, T - 301, "in the future"),
        ("t=1," + "v1=aa," * 300, BODY, T, "too long"),
    ],
)
def test_bad_missing_tampered_replayed_or_future_signatures_are_refused(header, body, now, message):
    with pytest.raises(InvalidSignature, match=message):
        verify(SECRET, header, body, now=now)


def test_within_five_minutes_either_way_is_accepted():
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + 300) == T
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T - 300) == T


def test_while_a_secret_rotates_any_v1_may_match():
    old = sign(b"the-old-secret-being-retired", T, BODY)
    new_signature = sign(SECRET, T, BODY).split("v1=")[1]
    assert verify(SECRET, f"{old},v1={new_signature}", BODY, now=T) == T


def test_without_a_configured_secret_nothing_is_accepted():
    with pytest.raises(InvalidSignature, match="not configured"):
        verify(b"", sign(b"", T, BODY), BODY, now=T)
