"""domain/qr_token.py: compact HMAC-signed QR codes."""

from __future__ import annotations

import hmac

import pytest

from chalicelib.domain import qr_token
from chalicelib.domain.qr_token import ALPHABET, TOKEN_LEN, InvalidToken

KEY = b"0123456789abcdef0123"
KEYS = {"A": KEY}
QR_ID = "SHELF234"


def signed(qr_id: str = QR_ID, kid: str = "A", key: bytes = KEY) -> str:
    return qr_token.sign(qr_id, kid, key)


def test_given_a_signed_token_then_it_verifies_to_its_qr_id():
    token = signed()

    assert len(token) == TOKEN_LEN == 22
    assert set(token) <= set(ALPHABET)
    assert token.startswith(QR_ID + "A")
    assert qr_token.verify(token, KEYS) == QR_ID


def test_given_a_token_in_lowercase_or_with_spaces_around_then_it_verifies():
    assert qr_token.verify(signed().lower(), KEYS) == QR_ID
    assert qr_token.verify(f"  {signed()}\n", KEYS) == QR_ID


@pytest.mark.parametrize("position", range(TOKEN_LEN))
def test_given_one_changed_character_anywhere_then_verification_fails(position):
    token = signed()
    replacement = "B" if token[position] != "B" else "C"
    tampered = token[:position] + replacement + token[position + 1 :]

    with pytest.raises(InvalidToken):
        qr_token.verify(tampered, KEYS)


@pytest.mark.parametrize(
    "bad", ["", "SHORT", signed() + "A", signed()[:-1] + "1", signed()[:-1] + "=", signed()[:-1] + "é"]
)
def test_given_a_malformed_token_then_verification_fails(bad):
    with pytest.raises(InvalidToken, match="malformed"):
        qr_token.verify(bad, KEYS)


def test_given_a_token_signed_with_a_key_that_is_not_live_then_verification_fails():
    with pytest.raises(InvalidToken, match="unknown key"):
        qr_token.verify(signed(kid="B", key=KEY), KEYS)


def test_given_a_token_signed_with_another_secret_under_the_same_kid_then_verification_fails():
    with pytest.raises(InvalidToken, match="bad signature"):
        qr_token.verify(signed(key=b"another-secret-of-20"), KEYS)


def test_given_two_live_keys_then_tokens_from_either_verify():
    keys = {"B": b"new-secret-0123456789", "A": KEY}

    assert qr_token.verify(signed(kid="A"), keys) == QR_ID
    assert qr_token.verify(signed(kid="B", key=keys["B"]), keys) == QR_ID


def test_verification_compares_the_mac_in_constant_time(monkeypatch):
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def recording_compare_digest(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording_compare_digest)
    token = signed()

    qr_token.verify(token, KEYS)

    assert calls == [(token[9:], token[9:])]


@pytest.mark.parametrize(
    ("qr_id", "kid"),
    [("SHORT", "A"), ("shelf234", "A"), ("SHELF0O1", "A"), (QR_ID, "AB"), (QR_ID, "1"), (QR_ID, "")],
)
def test_given_a_bad_id_or_kid_then_signing_refuses(qr_id, kid):
    with pytest.raises(ValueError):
        qr_token.sign(qr_id, kid, KEY)


def test_new_qr_ids_are_signable_and_random():
    ids = {qr_token.new_qr_id() for _ in range(50)}

    assert len(ids) == 50
    assert all(qr_token.verify(signed(i), KEYS) == i for i in ids)
