"""domain/records.py: write-key hashing and the QR destination rule that prevents open redirects."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.domain.records import QrCode, hash_write_key, is_safe_destination


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com",
        "https://shop.example.com/p/1?utm=qr#reviews",
        "HTTPS://Shop.Example.com/x",
        "https://shop.example.com:8443/x",
    ],
)
def test_given_an_absolute_https_url_with_a_host_then_it_is_safe(url):
    assert is_safe_destination(url) is True


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com",
        "javascript:alert(1)",
        "JavaScript://shop.example.com/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example",
        "/relative/path",
        "https://user@evil.example",
        "https://shop.example.com:pass@evil.example",
        "https://shop.example.com\\@evil.example",
        "https:\\\\evil.example",
        "https://shop.example.com/\x00",
        "https://shop.example.com/\r\nSet-Cookie:x=1",
        "https://shop.example.com/\tpath",
        "https://shop.example.com/ path",
        "https://shop.example.com/\x7f",
        "https://",
        "https:///path-only",
        "https:shop.example.com",
        "",
        "https://shop.example.com/" + "a" * 2048,
        None,
        42,
    ],
)
def test_given_anything_else_then_it_is_not_a_safe_destination(url):
    assert is_safe_destination(url) is False


def test_given_a_malformed_ipv6_host_then_it_is_not_a_safe_destination():
    assert is_safe_destination("https://[::1/landing") is False


def test_given_a_write_key_then_only_its_sha256_is_kept():
    assert hash_write_key("mmk_secret") == hashlib.sha256(b"mmk_secret").hexdigest()


@pytest.mark.parametrize(("state", "active"), [("active", True), ("revoked", False)])
def test_a_qr_code_is_active_only_in_the_active_state(state, active):
    assert QrCode("SHELF234", "s1", "https://x.example", "2026-01-01", state=state).active is active
