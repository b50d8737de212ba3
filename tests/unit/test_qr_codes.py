"""QR codes at the use-case level, over in-memory twins: the /q/ scan (bots, repeats, unique
visitors, one queue call), which codes resolve (tampered, expired key, revoked, rotated, foreign
domain), destinations and their allow-list, and the settings behind them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.in_memory import InMemoryQrCodes, InMemoryQueue
from chalicelib.contracts import queue_envelope
from chalicelib.domain import qr_token
from chalicelib.domain.clock import FixedClock, iso
from chalicelib.domain.errors import NotFound
from chalicelib.domain.qr_scans import ScanRequest
from chalicelib.domain.records import QrCode, destination_problem, host_allowed
from chalicelib.settings import SettingsError
from chalicelib.use_cases.ingest import Ingest
from chalicelib.use_cases.scan_qr import QrCodes, ScanQr
from tests.unit.builders import NOW, settings

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1"
PHONE = ScanRequest(IPHONE, "en-GB", "navigate", "document")
PREVIEW = ScanRequest("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)")
ALLOWED = "shop.example.com"


class Setup:
    def __init__(self, record: QrCode | None = None, **env: str) -> None:
        self.clock = FixedClock(NOW)
        self.settings = settings(MM_QR_ALLOWED_DOMAINS=ALLOWED, **env)
        self.repository = InMemoryQrCodes()
        self.repository.put(record or QrCode("SHELF234", "store-7", "https://shop.example.com/p/1", iso(NOW)))
        self.queue = InMemoryQueue()
        self.codes = QrCodes(self.repository, self.settings, self.clock)
        self.scanner = ScanQr(self.codes, Ingest(self.queue, self.clock), self.clock)
        self.code = self.codes.token_for("SHELF234")

    def scan(self, request=PHONE, visitor=None, memory=None, code=None):
        return self.scanner.scan(code or self.code, visitor, request, memory)

    def events(self):
        return [queue_envelope.decode(body).event for body in self.queue.messages]


# --- scan quality ---------------------------------------------------------------------------


def test_given_a_burst_of_100_link_preview_requests_then_all_redirect_and_none_is_queued():
    setup = Setup()

    results = [setup.scan(PREVIEW) for _ in range(100)]

    assert {r.destination for r in results} == {"https://shop.example.com/p/1"}
    assert {r.outcome for r in results} == {"bot:user_agent"}
    assert all(r.visitor_id is None and r.memory_cookie is None for r in results)
    assert setup.queue.calls == 0


def test_given_three_scans_by_one_visitor_within_a_minute_then_one_is_queued():
    setup = Setup()
    first = setup.scan()
    visitor, memory = first.visitor_id, first.memory_cookie
    outcomes = [first.outcome]
    for seconds in (20, 30):  # at 0 s, 20 s and 50 s
        setup.clock.advance(seconds=seconds)
        outcomes.append(setup.scan(visitor=visitor, memory=memory).outcome)

    assert outcomes == ["counted", "repeat", "repeat"]
    assert setup.queue.calls == 1
    [event] = setup.events()
    props = event.properties
    assert (props["unique_code"], props["unique_store"], event.anonymous_id) == (True, True, visitor)
    assert event.message_id.startswith("qr-SHELF234-")


def test_given_the_window_has_passed_then_the_visitor_counts_again_but_not_as_unique():
    setup = Setup()
    first = setup.scan()
    setup.clock.advance(minutes=6)

    again = setup.scan(visitor=first.visitor_id, memory=first.memory_cookie)

    assert again.outcome == "counted"
    assert setup.events()[1].properties["unique_code"] is False


def test_given_the_dedupe_window_setting_then_it_is_used():
    setup = Setup(MM_QR_SCAN_DEDUPE_SECONDS="30")
    first = setup.scan()
    setup.clock.advance(seconds=31)

    assert setup.scan(visitor=first.visitor_id, memory=first.memory_cookie).outcome == "counted"


def test_given_no_request_to_judge_then_the_caller_is_trusted():
    setup = Setup()

    assert setup.scanner.scan(setup.code, None).outcome == "counted"


def test_given_the_record_asks_for_it_then_the_destination_carries_the_visitor_id():
    record = QrCode("SHELF234", "s", "https://shop.example.com/p/1", iso(NOW), visitor_param="ajs_aid")
    result = Setup(record).scan()

    assert result.destination == f"https://shop.example.com/p/1?ajs_aid={result.visitor_id}"


# --- which codes resolve ----------------------------------------------------------------------


def test_given_a_genuine_code_in_any_case_then_it_resolves_and_the_record_is_read_once():
    setup = Setup()

    setup.codes.resolve(setup.code.lower())
    setup.codes.resolve(setup.code)

    assert setup.repository.reads == 1


@pytest.mark.parametrize("position", range(22))
def test_given_any_one_character_changed_then_the_code_is_refused(position):
    setup = Setup()
    replacement = "A" if setup.code[position] != "A" else "B"
    changed = setup.code[:position] + replacement + setup.code[position + 1 :]

    with pytest.raises(NotFound):
        setup.codes.resolve(changed)


def test_given_a_retired_key_then_its_codes_are_refused_and_while_live_they_work():
    old = Setup(MM_QR_SIGNING_KEYS="A:0123456789abcdef0123")
    code_under_a = old.code
    rotated = Setup(MM_QR_SIGNING_KEYS="B:fedcba9876543210fedc,A:0123456789abcdef0123")
    retired = Setup(MM_QR_SIGNING_KEYS="B:fedcba9876543210fedc")

    assert rotated.codes.resolve(code_under_a).qr_id == "SHELF234"
    assert rotated.codes.token_for("SHELF234").startswith("SHELF234B")  # new labels use B
    with pytest.raises(NotFound):
        retired.codes.resolve(code_under_a)


def test_given_a_revoked_code_then_refused_now_but_a_scan_made_before_still_resolves():
    record = QrCode(
        "SHELF234", "s", "https://shop.example.com/p", iso(NOW), state="revoked", revoked_at=iso(NOW)
    )
    setup = Setup(record)

    with pytest.raises(NotFound):
        setup.codes.resolve(setup.code)
    assert setup.codes.resolve(setup.code, at=NOW - timedelta(seconds=1)).qr_id == "SHELF234"


def test_given_a_rotated_code_then_it_works_until_its_grace_period_ends():
    retire = NOW + timedelta(hours=2)
    record = QrCode(
        "SHELF234", "s", "https://shop.example.com/p", iso(NOW), state="rotated", retire_at=iso(retire)
    )
    setup = Setup(record)

    assert setup.scan().outcome == "counted"
    setup.clock.advance(hours=2)
    setup.codes.forget()
    with pytest.raises(NotFound):
        setup.scan()


def test_given_a_stored_destination_on_a_domain_no_longer_allowed_then_refused():
    record = QrCode("SHELF234", "s", "https://old-shop.example.net/p", iso(NOW))
    setup = Setup(record)

    with pytest.raises(NotFound):
        setup.scan()
    assert setup.queue.calls == 0


def test_the_token_names_its_id_and_key():
    assert qr_token.split(" shelf234a" + "B" * 13) == ("SHELF234", "A", "B" * 13)
    with pytest.raises(qr_token.InvalidToken):
        qr_token.split("SHELF234")


# --- destinations and their allow-list ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("shop.example.com", True),
        ("SHOP.example.COM", True),
        ("shop.example.com.", True),
        ("eu.shop.example.com", True),
        ("example.com", False),
        ("evilshop.example.com", False),
        ("shop.example.com.evil.net", False),
        ("", False),
    ],
)
def test_an_allowed_domain_covers_itself_and_its_subdomains_only(host, allowed):
    assert host_allowed(host, ("shop.example.com",)) is allowed


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "is required"),
        ("http://shop.example.com/p", "must use https, not 'http'"),
        ("/p/1", "must use https, not 'a relative URL'"),
        ("https://a:b@shop.example.com/p", "user name or password"),
        ("https://shop.example.com/ p", "control characters"),
        ("https://cdn.example.org/p", "host 'cdn.example.org' is not an allowed domain (shop.example.com)"),
        ("https://shop.example.com/" + "a" * 2100, "at most 2048"),
    ],
)
def test_a_refused_destination_says_why(url, reason):
    problem = destination_problem(url, ("shop.example.com",))

    assert problem is not None and reason in problem


def test_without_an_allow_list_no_destination_is_accepted():
    assert "MM_QR_ALLOWED_DOMAINS" in destination_problem("https://shop.example.com/p", ())
    assert destination_problem("https://eu.shop.example.com/p?x=1#y", ("shop.example.com",)) is None


def test_the_qr_settings_are_read_and_checked():
    s = settings(
        MM_QR_ALLOWED_DOMAINS=" Shop.Example.com, *.example.org ,shop.example.com",
        MM_QR_SCAN_DEDUPE_SECONDS="120",
        MM_QR_DESTINATION_TEMPLATE="https://shop.example.com/p/{product_id}",
    )

    assert s.qr_allowed_domains == ("shop.example.com", "example.org")
    assert s.qr_scan_dedupe_seconds == 120
    assert s.qr_destination_template == "https://shop.example.com/p/{product_id}"
    assert settings().qr_allowed_domains == () and settings().qr_scan_dedupe_seconds == 300


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "MM_QR_ALLOWED_DOMAINS",
            "https://shop.example.com",
            "MM_QR_ALLOWED_DOMAINS entries must be host names",
        ),
        ("MM_QR_ALLOWED_DOMAINS", "localhost", "MM_QR_ALLOWED_DOMAINS entries must be host names"),
        ("MM_QR_SCAN_DEDUPE_SECONDS", "-1", "MM_QR_SCAN_DEDUPE_SECONDS must be at least 0"),
        ("MM_QR_SCAN_DEDUPE_SECONDS", "90000", "MM_QR_SCAN_DEDUPE_SECONDS must be at most 86400"),
        (
            "MM_QR_DESTINATION_TEMPLATE",
            "https://shop.example.com/p",
            "must be an https URL containing {product_id}",
        ),
    ],
)
def test_bad_qr_settings_are_named(name, value, message):
    with pytest.raises(SettingsError, match=message.replace("{", r"\{").replace("}", r"\}")):
        settings(**{name: value})
