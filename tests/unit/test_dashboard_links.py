"""use_cases/dashboard_links.py: signed dashboard links that expire."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain import tokens
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.use_cases.dashboard_links import DEFAULT_HOURS, MAX_HOURS, DashboardLinks
from tests.unit.builders import NOW, settings


def links(at=NOW, **overrides):
    s = replace(settings(), public_base_url="https://mm.example.com", **overrides)
    return DashboardLinks(s, FixedClock(at)), s


def token_of(url: str) -> str:
    assert url.startswith("https://mm.example.com/dashboard/")
    return url.rsplit("/", 1)[1]


def test_a_link_works_until_it_expires_and_not_a_second_later():
    minted, s = links()
    link = minted.mint(None, "arn:aws:iam::1:user/ops")

    assert link.expires_at == (NOW + timedelta(hours=DEFAULT_HOURS)).replace(microsecond=0)
    links(NOW + timedelta(hours=DEFAULT_HOURS) - timedelta(seconds=1))[0].check(token_of(link.url))
    with pytest.raises(NotFound, match="expired"):
        links(NOW + timedelta(hours=DEFAULT_HOURS))[0].check(token_of(link.url))


@pytest.mark.parametrize("hours", [0, -1, MAX_HOURS + 1, "12", True, float("nan")])
def test_hours_out_of_range_are_refused_naming_the_field(hours):
    with pytest.raises(InvalidInput) as refused:
        links()[0].mint(hours, "ops")

    assert [e.field for e in refused.value.errors] == ["hours"]


def test_a_tampered_token_or_another_purposes_token_is_not_a_dashboard_link():
    minted, s = links()
    token = token_of(minted.mint(1, "ops").url)
    payload, mac = token.split(".")
    forged_payload = tokens.sign("dashboard", {"exp": 2_000_000_000, "by": "x"}, b"another key").split(".")[0]
    click = tokens.sign("click", {"exp": 2_000_000_000}, s.token_signing_key)

    for bad in (f"{forged_payload}.{mac}", f"{payload}.{mac[:-1]}A", click, "nonsense", ""):
        with pytest.raises(NotFound, match="not valid"):
            minted.check(bad)


def test_without_a_public_base_url_there_is_nothing_to_link_to():
    minted = DashboardLinks(replace(settings(), public_base_url=None), FixedClock(NOW))

    with pytest.raises(InvalidInput) as refused:
        minted.mint(1, "ops")

    assert refused.value.errors[0].field == "MM_PUBLIC_BASE_URL"
