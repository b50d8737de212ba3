"""domain/qr_scans.py: who is a shopper, which repeat scans count once, which are unique, and
the messageIds that let the worker collapse races and find the code behind an offer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.qr_scans import (
    MEMORY_MAX_ENTRIES,
    ScanMemory,
    ScanRequest,
    bot_reason,
    is_bot_agent,
    qr_id_of_message,
    scan_message_id,
    store_key,
    with_visitor,
)
from tests.unit.builders import NOW

KEY = b"unit-test-token-key-0123456789"
VISITOR = "6f1c1d4e-8a63-4b53-9d7e-3f2b5a1c0d9e"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
SHOPPER = ScanRequest(IPHONE, "en-GB,en;q=0.9", "navigate", "document")


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 "
        "Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "Mozilla/5.0 (compatible; SomeNewCrawler/0.1)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
    ],
)
def test_given_a_crawler_link_preview_or_http_library_then_it_is_a_bot(agent):
    assert is_bot_agent(agent)
    assert (
        bot_reason(ScanRequest(agent, "en", "navigate", "document"), has_visitor_cookie=True) == "user_agent"
    )


@pytest.mark.parametrize(
    "agent",
    [
        IPHONE,
        ANDROID,
        "Mozilla/5.0 (Linux; Android 13; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/450.0]",  # the Facebook app's in-app browser is a person
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0 Mobile Safari/537.36",
    ],
)
def test_given_a_phone_browser_then_it_is_a_shopper(agent):
    assert not is_bot_agent(agent)
    assert bot_reason(ScanRequest(agent, "en-US", "navigate", "document"), has_visitor_cookie=False) is None


@pytest.mark.parametrize(
    ("request_", "cookie", "reason"),
    [
        (ScanRequest(None), False, "no_user_agent"),
        (ScanRequest("  "), True, "no_user_agent"),
        (ScanRequest(IPHONE), False, "no_browser_headers"),
        (ScanRequest(IPHONE, sec_fetch_mode="no-cors", sec_fetch_dest="image"), True, "not_navigation"),
        (ScanRequest(IPHONE, "en", "navigate", "iframe"), True, "not_navigation"),
        (ScanRequest(IPHONE, "en", "cors", "empty"), True, "not_navigation"),
        (ScanRequest(IPHONE, "en", "navigate", "document", "prefetch;prerender"), True, "prefetch"),
        (ScanRequest(IPHONE, "en", purpose="preview"), True, "prefetch"),
    ],
)
def test_given_missing_browser_evidence_then_the_reason_is_named(request_, cookie, reason):
    assert bot_reason(request_, has_visitor_cookie=cookie) == reason


@pytest.mark.parametrize(
    ("request_", "cookie"),
    [
        (ScanRequest(IPHONE, accept_language="en"), False),  # older Safari: no Sec-Fetch-*
        (ScanRequest(IPHONE, sec_fetch_mode="navigate"), False),  # no Accept-Language
        (ScanRequest(IPHONE), True),  # our own cookie, only ever given to browsers
    ],
)
def test_given_any_one_piece_of_browser_evidence_then_it_is_a_shopper(request_, cookie):
    assert bot_reason(request_, has_visitor_cookie=cookie) is None


# --- scan memory ------------------------------------------------------------------------------


def remembered(memory: ScanMemory, visitor: str = VISITOR) -> ScanMemory:
    """Through the cookie, as the browser sends it back."""
    return ScanMemory.decode(memory.encode(visitor, KEY), visitor, KEY)


def test_given_three_scans_within_a_minute_then_only_the_first_counts():
    memory = ScanMemory()
    counted = []
    for seconds in (0, 20, 55):
        decision = memory.decide("SHELF234", "s1", NOW + timedelta(seconds=seconds), 300)
        counted.append(decision.counted)
        if decision.memory is not None:
            memory = remembered(decision.memory)

    assert counted == [True, False, False]


def test_given_a_scan_after_the_window_then_it_counts_again_but_is_not_unique_within_a_day():
    first = ScanMemory().decide("SHELF234", "s1", NOW, 300)
    assert (first.counted, first.unique_code, first.unique_store) == (True, True, True)

    later = remembered(first.memory).decide("SHELF234", "s1", NOW + timedelta(minutes=6), 300)
    next_day = remembered(later.memory).decide("SHELF234", "s1", NOW + timedelta(hours=24, minutes=7), 300)

    assert (later.counted, later.unique_code, later.unique_store) == (True, False, False)
    assert (next_day.counted, next_day.unique_code, next_day.unique_store) == (True, True, True)


def test_given_another_code_in_the_same_store_then_unique_for_the_code_not_the_store():
    first = ScanMemory().decide("SHELF234", "s1", NOW, 300)

    other = remembered(first.memory).decide("TILL2345", "s1", NOW + timedelta(seconds=5), 300)
    elsewhere = remembered(first.memory).decide("TILL2345", "s2", NOW + timedelta(seconds=5), 300)

    assert (other.counted, other.unique_code, other.unique_store) == (True, True, False)
    assert elsewhere.unique_store is True


def test_given_dedupe_off_then_every_scan_counts():
    first = ScanMemory().decide("SHELF234", "s1", NOW, 0)
    assert remembered(first.memory).decide("SHELF234", "s1", NOW, 0).counted


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        "garbage",
        "SHELF234-0-0.AAAAAAAAAAAAAAAA",  # wrong MAC
        "x" * 2000,
    ],
)
def test_given_a_missing_or_forged_memory_cookie_then_it_is_empty(cookie):
    assert ScanMemory.decode(cookie, VISITOR, KEY).entries == {}


def test_given_another_visitors_memory_then_it_is_not_used():
    cookie = ScanMemory().decide("SHELF234", "s1", NOW, 300).memory.encode(VISITOR, KEY)

    assert ScanMemory.decode(cookie, str(uuid.uuid4()), KEY).entries == {}
    assert ScanMemory.decode(cookie, VISITOR, b"another-key-of-enough-length").entries == {}
    edited = cookie.replace("SHELF234", "SHELF235")
    assert ScanMemory.decode(edited, VISITOR, KEY).entries == {}


def test_the_memory_keeps_only_the_most_recent_codes_and_stays_small():
    memory = ScanMemory()
    for i in range(40):
        qr_id = f"CODE{chr(65 + i % 26)}{chr(65 + i // 26)}AA"
        memory = remembered(memory.decide(qr_id, f"store-{i}", NOW + timedelta(minutes=i), 300).memory)

    assert len(memory.entries) == MEMORY_MAX_ENTRIES
    assert "CODENBAA" in memory.entries  # the 40th code
    assert len(memory.encode(VISITOR, KEY)) < 450


def test_store_keys_never_look_like_a_qr_id():
    assert store_key("store-1").startswith("9") and len(store_key("store-1")) == 8
    assert store_key("store-1") != store_key("store-2")


# --- message ids ------------------------------------------------------------------------------


def test_given_the_same_visitor_code_and_bucket_then_the_same_message_id():
    start = datetime.fromtimestamp(int(NOW.timestamp()) // 300 * 300, UTC)
    a = scan_message_id(VISITOR, "SHELF234", start, 300)

    assert a == scan_message_id(VISITOR, "SHELF234", start + timedelta(seconds=299), 300)
    assert a != scan_message_id(VISITOR, "SHELF234", start + timedelta(seconds=300), 300)
    assert a != scan_message_id(str(uuid.uuid4()), "SHELF234", start, 300)
    assert a != scan_message_id(VISITOR, "TILL2345", start, 300)
    assert scan_message_id(VISITOR, "SHELF234", NOW, 0) != scan_message_id(VISITOR, "SHELF234", NOW, 0)


@pytest.mark.parametrize(
    ("message_id", "qr_id"),
    [
        (scan_message_id(VISITOR, "SHELF234", NOW, 300), "SHELF234"),
        (scan_message_id(VISITOR, "SHELF234", NOW, 0), "SHELF234"),
        ("qr-shelf234-abc", None),
        ("m-1", None),
        ("qr-SHELF234", None),
        (None, None),
    ],
)
def test_the_code_behind_a_scans_message_id(message_id, qr_id):
    assert qr_id_of_message(message_id) == qr_id


# --- the visitor parameter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "param", "expected"),
    [
        ("https://shop.example.com/p", "ajs_aid", f"https://shop.example.com/p?ajs_aid={VISITOR}"),
        (
            "https://shop.example.com/p?src=qr#top",
            "ajs_aid",
            f"https://shop.example.com/p?src=qr&ajs_aid={VISITOR}#top",
        ),
        ("https://shop.example.com/p?ajs_aid=fixed", "ajs_aid", "https://shop.example.com/p?ajs_aid=fixed"),
        ("https://shop.example.com/p", None, "https://shop.example.com/p"),
    ],
)
def test_the_visitor_id_is_passed_on_only_when_asked(destination, param, expected):
    assert with_visitor(destination, param, VISITOR) == expected
